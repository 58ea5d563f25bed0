# Decides whether the Python package is built. AUTO: when the Python 3 development files and
# pybind11 are found. The interpreter defaults to Debian's /usr/bin/python3 (the one python3-dev,
# pybind11-dev and python3-numpy/-torch belong to), not whatever python3 comes first on PATH;
# -DPython_EXECUTABLE=... picks another.
set(DIFFUSER_PYTHON_ENABLED OFF)
if(NOT DEFINED Python_EXECUTABLE AND EXISTS /usr/bin/python3)
  set(Python_EXECUTABLE /usr/bin/python3 CACHE FILEPATH "Python interpreter of the diffuser package")
endif()
if(NOT DEFINED Python3_EXECUTABLE AND DEFINED Python_EXECUTABLE)
  set(Python3_EXECUTABLE ${Python_EXECUTABLE} CACHE FILEPATH "Python 3 interpreter (tests and scripts)")
endif()
if(NOT DIFFUSER_PYTHON STREQUAL "OFF")
  find_package(Python 3 COMPONENTS Interpreter Development.Module)
  if(Python_FOUND)
    set(PYBIND11_FINDPYTHON ON)
    find_package(pybind11 CONFIG QUIET)
  endif()
  if(Python_FOUND AND pybind11_FOUND)
    set(DIFFUSER_PYTHON_ENABLED ON)
  elseif(DIFFUSER_PYTHON STREQUAL "ON")
    message(FATAL_ERROR "DIFFUSER_PYTHON=ON but the Python 3 development files or pybind11 were not found "
                        "(Debian: apt-get install python3-dev pybind11-dev); or use -DDIFFUSER_PYTHON=OFF")
  else()
    message(STATUS "diffuser: no Python 3 development files or pybind11, not building the Python package")
  endif()
endif()
