# Findhttplib: cpp-httplib. Debian 12's libcpp-httplib-dev (0.11.4) ships a compiled library and
# a pkg-config file only; its flags turn on the OpenSSL, zlib and Brotli support it was built with.
#
# Result: httplib::httplib IMPORTED target; httplib_FOUND, httplib_VERSION.
include(FindPackageHandleStandardArgs)

find_package(httplib CONFIG QUIET NO_MODULE)
if(TARGET httplib::httplib)
  set(httplib_FOUND TRUE)
  return()
endif()

find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_HTTPLIB QUIET cpp-httplib)
endif()

find_path(HTTPLIB_INCLUDE_DIR NAMES httplib.h HINTS ${PC_HTTPLIB_INCLUDE_DIRS})
find_library(HTTPLIB_LIBRARY NAMES cpp-httplib HINTS ${PC_HTTPLIB_LIBRARY_DIRS})
set(httplib_VERSION "${PC_HTTPLIB_VERSION}")

find_package_handle_standard_args(httplib
  REQUIRED_VARS HTTPLIB_LIBRARY HTTPLIB_INCLUDE_DIR
  VERSION_VAR httplib_VERSION)

if(httplib_FOUND AND NOT TARGET httplib::httplib)
  add_library(httplib::httplib UNKNOWN IMPORTED)
  # The definitions must match the library's build (its struct layouts depend on them).
  set(_httplib_defs "")
  foreach(_flag IN LISTS PC_HTTPLIB_CFLAGS_OTHER)
    if(_flag MATCHES "^-D(.+)$")
      list(APPEND _httplib_defs "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  set_target_properties(httplib::httplib PROPERTIES
    IMPORTED_LOCATION "${HTTPLIB_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${HTTPLIB_INCLUDE_DIR}"
    INTERFACE_COMPILE_DEFINITIONS "${_httplib_defs}")
  find_package(Threads QUIET)
  if(TARGET Threads::Threads)
    set_property(TARGET httplib::httplib APPEND PROPERTY INTERFACE_LINK_LIBRARIES Threads::Threads)
  endif()
endif()
mark_as_advanced(HTTPLIB_INCLUDE_DIR HTTPLIB_LIBRARY)
