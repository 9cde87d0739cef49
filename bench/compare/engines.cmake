# The optional engines of the `compare` driver: FAISS and usearch.
#
# Included from bench/CMakeLists.txt after the `compare` target exists. Both sources are always
# compiled; each defines its factory to return nullptr unless its library was found here, in
# which case HNSWSTORE_BENCH_HAVE_FAISS=1 or HNSWSTORE_BENCH_HAVE_USEARCH=1 is set on that source.

set(_engines_dir ${CMAKE_CURRENT_LIST_DIR})
target_sources(compare PRIVATE ${_engines_dir}/engine_faiss.cpp ${_engines_dir}/engine_usearch.cpp)
set(_faiss_status "not found (needs faiss/IndexHNSW.h, libfaiss and OpenMP)")
set(_usearch_status "not found (no usearch/index_dense.hpp in HNSWSTORE_USEARCH_INCLUDE_DIR)")

# ── FAISS ─────────────────────────────────────────────────────────────────────────────────────
# Searched for as a header and a library rather than through faiss-config.cmake, which needs the
# OpenMP::OpenMP_CXX target defined beforehand. The engine calls omp_set_num_threads itself, so
# the OpenMP runtime is linked in any case; a static libfaiss.a (the Debian package ships only
# that) also needs the LAPACK and BLAS it calls into.
find_path(HNSWSTORE_FAISS_INCLUDE_DIR faiss/IndexHNSW.h)
find_library(HNSWSTORE_FAISS_LIBRARY faiss)
find_package(OpenMP COMPONENTS CXX QUIET)
set(_faiss_libs "")
if(HNSWSTORE_FAISS_INCLUDE_DIR AND HNSWSTORE_FAISS_LIBRARY AND OpenMP_CXX_FOUND)
  set(_faiss_libs ${HNSWSTORE_FAISS_LIBRARY})
  if(HNSWSTORE_FAISS_LIBRARY MATCHES "\\.a$")
    find_package(LAPACK QUIET)  # LAPACK::LAPACK links BLAS as well
    if(LAPACK_FOUND)
      list(APPEND _faiss_libs LAPACK::LAPACK)
    else()
      set(_faiss_libs "")
      set(_faiss_status "not usable (static ${HNSWSTORE_FAISS_LIBRARY}, no BLAS/LAPACK found)")
    endif()
  endif()
endif()
if(_faiss_libs)
  # Only the runtime library: OpenMP::OpenMP_CXX would also put -fopenmp on every source of the
  # target, and engine_faiss.cpp has no OpenMP pragmas of its own (omp.h ships with the compiler).
  target_link_libraries(compare PRIVATE ${_faiss_libs} ${OpenMP_CXX_LIBRARIES})
  target_include_directories(compare SYSTEM PRIVATE ${HNSWSTORE_FAISS_INCLUDE_DIR})
  set(_faiss_defs HNSWSTORE_BENCH_HAVE_FAISS=1)
  # version() then says "Debian" (a system library on a Debian-family distribution).
  if(EXISTS /etc/debian_version AND HNSWSTORE_FAISS_LIBRARY MATCHES "^/usr/lib/")
    list(APPEND _faiss_defs HNSWSTORE_BENCH_FAISS_DEBIAN=1)
  endif()
  set_source_files_properties(${_engines_dir}/engine_faiss.cpp TARGET_DIRECTORY compare
                              PROPERTIES COMPILE_DEFINITIONS "${_faiss_defs}")
  set(_faiss_status "found (${HNSWSTORE_FAISS_LIBRARY})")
endif()

# ── usearch ───────────────────────────────────────────────────────────────────────────────────
# Header-only. Its SIMD plugin (NumKong) needs GCC 13, and its OpenMP use is not wanted: the
# engine runs its own build threads. Its headers warn a lot, so that one source is built with -w
# (the project may build with -Werror).
set(HNSWSTORE_USEARCH_INCLUDE_DIR
    ${PROJECT_SOURCE_DIR}/build/_deps/usearch-2.26.2/package/include
    CACHE PATH "Directory holding usearch/index_dense.hpp (for the compare benchmark)")
if(EXISTS ${HNSWSTORE_USEARCH_INCLUDE_DIR}/usearch/index_dense.hpp)
  set_source_files_properties(${_engines_dir}/engine_usearch.cpp TARGET_DIRECTORY compare
    PROPERTIES
      INCLUDE_DIRECTORIES ${HNSWSTORE_USEARCH_INCLUDE_DIR}
      COMPILE_DEFINITIONS "HNSWSTORE_BENCH_HAVE_USEARCH=1;USEARCH_USE_NUMKONG=0;USEARCH_USE_OPENMP=0"
      COMPILE_OPTIONS -w)
  set(_usearch_status "found (${HNSWSTORE_USEARCH_INCLUDE_DIR})")
endif()

message(STATUS "compare: FAISS ${_faiss_status}; usearch ${_usearch_status}")
