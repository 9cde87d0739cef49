# Findhnswlib: hnswlib is header-only and ships no CMake package in Debian 12 (0.6.2); 0.8.0's
# own install provides hnswlibConfig.cmake (without a version file, so never ask for a version).
#
# Inputs:   HNSWLIB_INCLUDE_DIR  directory that contains hnswlib/hnswlib.h (overrides the search)
# Result:   hnswlib::hnswlib     INTERFACE IMPORTED target (its includes are SYSTEM)
#           hnswlib_FOUND, hnswlib_VERSION ("0.6", "0.7" or "0.8": inferred from the headers,
#           hnswlib has no version macro)
include(FindPackageHandleStandardArgs)

if(NOT HNSWLIB_INCLUDE_DIR)
  find_package(hnswlib CONFIG QUIET NO_MODULE)
  if(TARGET hnswlib::hnswlib)
    get_target_property(_hnswlib_dirs hnswlib::hnswlib INTERFACE_INCLUDE_DIRECTORIES)
    foreach(_dir IN LISTS _hnswlib_dirs)
      if(EXISTS "${_dir}/hnswlib/hnswlib.h")
        set(HNSWLIB_INCLUDE_DIR "${_dir}" CACHE PATH "Directory containing hnswlib/hnswlib.h")
        break()
      endif()
    endforeach()
  endif()
endif()

find_path(HNSWLIB_INCLUDE_DIR NAMES hnswlib/hnswlib.h
          DOC "Directory containing hnswlib/hnswlib.h")

if(HNSWLIB_INCLUDE_DIR AND EXISTS "${HNSWLIB_INCLUDE_DIR}/hnswlib/hnswalg.h")
  if(EXISTS "${HNSWLIB_INCLUDE_DIR}/hnswlib/stop_condition.h")
    set(hnswlib_VERSION "0.8")
  else()
    file(STRINGS "${HNSWLIB_INCLUDE_DIR}/hnswlib/hnswalg.h" _hnswlib_replace
         REGEX "allow_replace_deleted")
    if(_hnswlib_replace)
      set(hnswlib_VERSION "0.7")
    else()
      set(hnswlib_VERSION "0.6")
    endif()
  endif()
endif()

find_package_handle_standard_args(hnswlib
  REQUIRED_VARS HNSWLIB_INCLUDE_DIR
  VERSION_VAR hnswlib_VERSION)

if(hnswlib_FOUND AND NOT TARGET hnswlib::hnswlib)
  add_library(hnswlib::hnswlib INTERFACE IMPORTED)
  set_target_properties(hnswlib::hnswlib PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${HNSWLIB_INCLUDE_DIR}")
endif()
mark_as_advanced(HNSWLIB_INCLUDE_DIR)
