# Installation: headers, libraries and a CMake package, so that another project can
#   find_package(diffuser REQUIRED)
#   target_link_libraries(app PRIVATE diffuser::diffuser)      # or diffuser::engine, ::graphs, ...
# (examples/cmake-consumer builds against an installed tree in CI). Shared libraries
# (BUILD_SHARED_LIBS=ON) carry a versioned SONAME.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(DIFFUSER_LIBRARIES engine graphs diffusion attention baselines)
foreach(part IN LISTS DIFFUSER_LIBRARIES)
  set(t diffuser_${part})
  set_target_properties(${t} PROPERTIES EXPORT_NAME ${part} VERSION ${PROJECT_VERSION}
                                        SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  add_library(diffuser::${part} ALIAS ${t})
endforeach()
# Public include directories: the source tree while building, <prefix>/include once installed.
foreach(part engine graphs diffusion attention)
  set_property(TARGET diffuser_${part} PROPERTY INTERFACE_INCLUDE_DIRECTORIES
               $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/${part}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endforeach()
set_property(TARGET diffuser_baselines PROPERTY INTERFACE_INCLUDE_DIRECTORIES
             $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/engine/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)

# Everything at once.
add_library(diffuser_all INTERFACE)
set_target_properties(diffuser_all PROPERTIES EXPORT_NAME diffuser)
target_link_libraries(diffuser_all INTERFACE diffuser_attention diffuser_diffusion diffuser_graphs diffuser_engine)
add_library(diffuser::diffuser ALIAS diffuser_all)

install(TARGETS diffuser_engine diffuser_graphs diffuser_diffusion diffuser_attention diffuser_baselines diffuser_all
        EXPORT diffuserTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(part engine graphs diffusion attention)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${part}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endforeach()
install(TARGETS diffuser RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(DIFFUSER_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/diffuser)
install(EXPORT diffuserTargets NAMESPACE diffuser:: DESTINATION ${DIFFUSER_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/diffuserConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/diffuserConfig.cmake INSTALL_DESTINATION ${DIFFUSER_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/diffuserConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/diffuserConfig.cmake ${PROJECT_BINARY_DIR}/diffuserConfigVersion.cmake
        DESTINATION ${DIFFUSER_CMAKE_DIR})
