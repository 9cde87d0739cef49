# Driver for the package tests (tests/package/CMakeLists.txt registers them). One step per call:
#
#   cmake -DSTEP=install -DBUILD_DIR=<build> -DSTAGE_DIR=<prefix> [-DCONFIG=<cfg>] -P run_step.cmake
#       Installs an existing build tree into an emptied staging prefix.
#   cmake -DSTEP=project -DSOURCE_DIR=<src> -DBINARY_DIR=<bin> [-DCONFIG=<cfg>]
#         [-DINSTALL_DIR=<prefix>] [-DRUN=<executable relative to bin>] -P run_step.cmake
#         -- <configure arguments...>
#       Configures a fresh build of <src> with the arguments after `--`, builds it, then installs
#       it into an emptied INSTALL_DIR and/or runs RUN when given.
#
# Every command's output goes to the test log; the first failing command fails the test.
cmake_minimum_required(VERSION 3.21)

function(run_checked what)
  string(REPLACE ";" " " _shown "${ARGN}")
  message(STATUS "package test: ${what}: ${_shown}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "package test: ${what} failed (${_rc})")
  endif()
endfunction()

set(_config_args)
if(CONFIG)
  set(_config_args --config "${CONFIG}")
endif()

if(STEP STREQUAL "install")
  file(REMOVE_RECURSE "${STAGE_DIR}")
  run_checked("install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${STAGE_DIR}"
              ${_config_args})
elseif(STEP STREQUAL "project")
  # The configure arguments follow `--`; keep semicolons inside one argument (lists) intact.
  set(_configure_args)
  set(_after_dashes FALSE)
  math(EXPR _last "${CMAKE_ARGC} - 1")
  foreach(_i RANGE ${_last})
    set(_arg "${CMAKE_ARGV${_i}}")
    if(_after_dashes)
      string(REPLACE ";" "\\;" _arg "${_arg}")
      list(APPEND _configure_args "${_arg}")
    elseif(_arg STREQUAL "--")
      set(_after_dashes TRUE)
    endif()
  endforeach()

  file(REMOVE_RECURSE "${BINARY_DIR}")
  run_checked("configure" "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${BINARY_DIR}"
              ${_configure_args})
  run_checked("build" "${CMAKE_COMMAND}" --build "${BINARY_DIR}" ${_config_args})
  if(INSTALL_DIR)
    file(REMOVE_RECURSE "${INSTALL_DIR}")
    run_checked("install" "${CMAKE_COMMAND}" --install "${BINARY_DIR}" --prefix "${INSTALL_DIR}"
                ${_config_args})
  endif()
  if(RUN)
    set(_exe "${BINARY_DIR}/${RUN}")
    if(CONFIG AND NOT EXISTS "${_exe}" AND EXISTS "${BINARY_DIR}/${CONFIG}/${RUN}")
      set(_exe "${BINARY_DIR}/${CONFIG}/${RUN}")  # multi-config generators
    endif()
    run_checked("run" "${_exe}")
  endif()
else()
  message(FATAL_ERROR "run_step.cmake: unknown STEP '${STEP}'")
endif()
