#!/usr/bin/env bash
# Installs what hnswstore needs (Debian/Ubuntu), then builds and runs something.
#
#   cmake/bootstrap.sh demo       build the `release` preset's quickstart example and run it
#   cmake/bootstrap.sh test       build the `release` preset and run `ctest --preset release`
#                                 (everything but the `slow` label)
#   cmake/bootstrap.sh asan       the same with the `asan` preset (ASan + UBSan)
#   cmake/bootstrap.sh tsan       the `tsan` preset (ThreadSanitizer, build dir build/tsan): builds
#                                 only the test targets labelled `concurrency` in
#                                 tests/CMakeLists.txt (concurrency_test, stress_test) and runs
#                                 `ctest --preset tsan -L concurrency`, with the suppressions for
#                                 hnswlib's internals in tests/tsan.supp
#   cmake/bootstrap.sh hnswlib08  unit tests against hnswlib 0.8.0 headers: `dev` preset settings,
#                                 build dir build/hnswlib08; then files written with 0.6.2 are
#                                 read with 0.8.0 and back (examples/persistence)
#   cmake/bootstrap.sh asan08     unit tests against hnswlib 0.8.0 under the `asan` preset,
#                                 build dir build/asan08
#   cmake/bootstrap.sh compare    the comparison benchmark (docs/performance.md): also installs
#                                 libfaiss-dev and gnuplot-nox and fetches usearch's headers,
#                                 builds the `release` preset's `compare` driver and runs it on
#                                 every dataset (about 45 minutes on 2 cores); results go to
#                                 docs/bench/. Arguments after `compare` go to the driver.
#   cmake/bootstrap.sh filtered   the filtered-search benchmark (docs/performance.md, "Filtered
#                                 search"): builds the `release` preset's `compare` driver and
#                                 runs `compare --filtered` on fashion-mnist and embedding-128;
#                                 results go to docs/bench/filtered.{json,md}. Arguments after
#                                 `filtered` go to the driver (`compare --filtered ...` works too).
#   cmake/bootstrap.sh fetch08    only download the hnswlib 0.8.0 headers (see below)
#   cmake/bootstrap.sh deps       only install the missing Debian packages
#   cmake/bootstrap.sh all        test, asan, tsan, hnswlib08 and asan08
#
# Works from any directory. Missing Debian packages are installed with apt-get (through sudo
# when not root); set HNSWSTORE_SKIP_DEPS=1 to skip that check (other distributions).
# CMAKE_BUILD_PARALLEL_LEVEL and CTEST_PARALLEL_LEVEL default to the number of CPUs.
#
# hnswlib 0.8.0 is not in Debian 12. Its headers come from the npm package hnswlib-node@3.0.0
# (`npm pack`; npm itself is installed from Debian's packages when missing), checked against a
# pinned SHA-256 and unpacked into build/_deps/hnswlib-0.8.0, so that
#   cmake --preset <preset> -B <dir> -DHNSWLIB_INCLUDE_DIR=<repo>/build/_deps/hnswlib-0.8.0/package/src
# builds against them.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
cd "${REPO_ROOT}"

readonly DEB_PACKAGES=(
  g++ cmake ninja-build pkg-config
  libhnswlib-dev nlohmann-json3-dev libxxhash-dev libzstd-dev zlib1g-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  dataset-fashion-mnist
)
readonly HNSWLIB08_NPM_SPEC="hnswlib-node@3.0.0"
readonly HNSWLIB08_TARBALL="hnswlib-node-3.0.0.tgz"
readonly HNSWLIB08_SHA256="4a8074485e5abe659d23e9998d97a00226db056ca466ada6eedbc512a4c4df01"
readonly HNSWLIB08_DIR="${REPO_ROOT}/build/_deps/hnswlib-0.8.0"
readonly HNSWLIB08_INCLUDE_DIR="${HNSWLIB08_DIR}/package/src"
# usearch (C++ headers only) for the comparison benchmark, from the npm package.
readonly USEARCH_NPM_SPEC="usearch@2.26.2"
readonly USEARCH_TARBALL="usearch-2.26.2.tgz"
readonly USEARCH_SHA256="cb4ed21906924412cb928ac50bc3bdf24b75f6f5840d44101c8d54bfbb424c81"
readonly USEARCH_DIR="${REPO_ROOT}/build/_deps/usearch-2.26.2"
readonly COMPARE_PACKAGES=(libfaiss-dev gnuplot-nox npm)

nproc_or_2() { nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2; }
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc_or_2)}"
export CTEST_PARALLEL_LEVEL="${CTEST_PARALLEL_LEVEL:-$(nproc_or_2)}"

banner() { printf '\n==== bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }
run() { printf '+ %s\n' "$*"; "$@"; }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

# ── Debian packages ─────────────────────────────────────────────────────────────────────────
is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == "installed" ]]
}

# install_packages <package>...: installs those of the Debian packages that are missing.
install_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "bootstrap: no dpkg-query (not Debian/Ubuntu?); assuming these are installed: $*" >&2
    return
  fi
  local missing=() pkg
  for pkg in "$@"; do
    if [[ "${pkg}" == "g++" ]] && is_installed build-essential; then continue; fi
    is_installed "${pkg}" || missing+=("${pkg}")
  done
  if ((${#missing[@]} == 0)); then
    echo "bootstrap: the needed Debian packages are installed ($*)"
    return
  fi
  local sudo=()
  if ((EUID != 0)); then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      die "missing Debian packages: ${missing[*]}. Run this script as root, or install them:
  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
    fi
  fi
  banner "installing missing Debian packages: ${missing[*]}"
  run "${sudo[@]}" apt-get update
  run "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
}

install_deps() {
  if [[ "${HNSWSTORE_SKIP_DEPS:-0}" == "1" ]]; then
    echo "bootstrap: HNSWSTORE_SKIP_DEPS=1, not checking Debian packages"
    return
  fi
  install_packages "${DEB_PACKAGES[@]}"
}

# ── builds ──────────────────────────────────────────────────────────────────────────────────
# preset_test <preset>: configure, build and test one preset in its own build dir.
preset_test() {
  banner "configure, build and test preset '$1' (build/$1)"
  run cmake --preset "$1"
  run cmake --build --preset "$1"
  run ctest --preset "$1"
}

# The test targets whose ctest entries carry the `concurrency` label: the hnswstore_add_test and
# hnswstore_add_memory_test lines of tests/CMakeLists.txt whose label list names it.
concurrency_targets() {
  sed -n 's/^ *hnswstore_add_\(memory_\)\{0,1\}test(\([A-Za-z0-9_]*\) "[^"]*\bconcurrency\b[^"]*".*/\2/p' \
    "${REPO_ROOT}/tests/CMakeLists.txt"
}

# tsan: ThreadSanitizer on the threaded tests only; the library and those tests are all it
# builds (the other tests run single-threaded and are covered by the test and asan modes).
tsan() {
  local targets
  mapfile -t targets < <(concurrency_targets)
  ((${#targets[@]} > 0)) || die "no test in tests/CMakeLists.txt is labelled concurrency"
  banner "ThreadSanitizer: build ${targets[*]} (preset 'tsan') and run ctest -L concurrency"
  run cmake --preset tsan
  run cmake --build --preset tsan --target "${targets[@]}"
  run ctest --preset tsan -L concurrency --no-tests=error
}

fetch_hnswlib08() {
  if [[ -f "${HNSWLIB08_INCLUDE_DIR}/hnswlib/hnswlib.h" ]]; then
    echo "bootstrap: hnswlib 0.8.0 headers present in ${HNSWLIB08_INCLUDE_DIR}"
    return
  fi
  banner "fetching hnswlib 0.8.0 headers (${HNSWLIB08_NPM_SPEC}) into ${HNSWLIB08_DIR}"
  local tmp
  mkdir -p "${REPO_ROOT}/build/_deps"
  tmp="$(mktemp -d "${REPO_ROOT}/build/_deps/.hnswlib08.XXXXXX")"
  if ! command -v npm >/dev/null 2>&1; then
    install_packages npm
  fi
  (cd "${tmp}" && run npm pack --silent "${HNSWLIB08_NPM_SPEC}")
  local sum
  sum="$(sha256sum "${tmp}/${HNSWLIB08_TARBALL}" | cut -d' ' -f1)"
  if [[ "${sum}" != "${HNSWLIB08_SHA256}" ]]; then
    rm -rf "${tmp}"
    die "${HNSWLIB08_TARBALL}: SHA-256 ${sum}, expected ${HNSWLIB08_SHA256}"
  fi
  mkdir -p "${tmp}/out"
  run tar -xzf "${tmp}/${HNSWLIB08_TARBALL}" -C "${tmp}/out" package/src/hnswlib
  [[ -f "${tmp}/out/package/src/hnswlib/hnswlib.h" ]] ||
    die "${HNSWLIB08_TARBALL} has no package/src/hnswlib/hnswlib.h"
  rm -rf "${HNSWLIB08_DIR}"
  mv "${tmp}/out" "${HNSWLIB08_DIR}"
  rm -rf "${tmp}"
  echo "bootstrap: hnswlib 0.8.0 headers in ${HNSWLIB08_INCLUDE_DIR}"
}

fetch_usearch() {
  if [[ -f "${USEARCH_DIR}/package/include/usearch/index_dense.hpp" ]]; then
    echo "bootstrap: usearch headers present in ${USEARCH_DIR}/package/include"
    return
  fi
  banner "fetching usearch headers (${USEARCH_NPM_SPEC}) into ${USEARCH_DIR}"
  local tmp sum
  mkdir -p "${REPO_ROOT}/build/_deps"
  tmp="$(mktemp -d "${REPO_ROOT}/build/_deps/.usearch.XXXXXX")"
  (cd "${tmp}" && run npm pack --silent "${USEARCH_NPM_SPEC}")
  sum="$(sha256sum "${tmp}/${USEARCH_TARBALL}" | cut -d' ' -f1)"
  if [[ "${sum}" != "${USEARCH_SHA256}" ]]; then
    rm -rf "${tmp}"
    die "${USEARCH_TARBALL}: SHA-256 ${sum}, expected ${USEARCH_SHA256}"
  fi
  mkdir -p "${tmp}/out"
  run tar -xzf "${tmp}/${USEARCH_TARBALL}" -C "${tmp}/out" package/include package/LICENSE
  rm -rf "${USEARCH_DIR}"
  mv "${tmp}/out" "${USEARCH_DIR}"
  rm -rf "${tmp}"
}

# compare [driver args...]: the comparison benchmark with every engine this machine can have.
compare() {
  if [[ "${HNSWSTORE_SKIP_DEPS:-0}" != "1" ]]; then install_packages "${COMPARE_PACKAGES[@]}"; fi
  fetch_usearch
  banner "build and run the comparison driver (preset 'release'; results in docs/bench)"
  run cmake --preset release
  run cmake --build --preset release --target compare
  run "${REPO_ROOT}/build/release/bench/compare" --out "${REPO_ROOT}/docs/bench" \
    --cache "${REPO_ROOT}/build/compare-cache" "$@"
}

# filtered [driver args...]: the filtered-search benchmark (raw hnswlib and hnswstore only, so
# none of the comparison's extra packages).
filtered() {
  banner "build and run the filtered-search benchmark (preset 'release'; results in docs/bench)"
  run cmake --preset release
  run cmake --build --preset release --target compare
  run "${REPO_ROOT}/build/release/bench/compare" --filtered --out "${REPO_ROOT}/docs/bench" \
    --cache "${REPO_ROOT}/build/compare-cache" "$@"
}

# unit_tests_08 <preset> <build dir> [cmake args...]: the preset's settings with hnswlib 0.8.0,
# unit tests only.
unit_tests_08() {
  local preset="$1" dir="$2"
  shift 2
  fetch_hnswlib08
  banner "unit tests against hnswlib 0.8.0: preset '${preset}' settings in ${dir}"
  run cmake --preset "${preset}" -B "${dir}" -DHNSWLIB_INCLUDE_DIR="${HNSWLIB08_INCLUDE_DIR}" "$@"
  run cmake --build "${dir}"
  if [[ "${preset}" == "asan" ]]; then  # the environment of the asan test preset
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  fi
  run ctest --test-dir "${dir}" -L unit -LE slow --output-on-failure
}

# cross_version: files written with one hnswlib version load, graph included, with the other
# (the format is hnswstore's own). Uses the release preset (0.6.2) and build/hnswlib08.
cross_version() {
  banner "files written against hnswlib 0.6.2 load against 0.8.0 and back"
  run cmake --preset release
  run cmake --build --preset release --target persistence
  local d06 d08 tmp
  tmp="$(mktemp -d)"
  d06="${tmp}/written-by-0.6"
  d08="${tmp}/written-by-0.8"
  run "${REPO_ROOT}/build/release/examples/persistence" --write --dir "${d06}"
  run "${REPO_ROOT}/build/hnswlib08/examples/persistence" --verify --dir "${d06}"
  run "${REPO_ROOT}/build/hnswlib08/examples/persistence" --write --dir "${d08}"
  run "${REPO_ROOT}/build/release/examples/persistence" --verify --dir "${d08}"
  rm -rf "${tmp}"
}

# The sanitized 0.8.0 build compiles only the library and the tests (the unit tests need no
# examples or benchmarks, and a sanitized build of them is the slowest part).
asan08() {
  unit_tests_08 asan "${REPO_ROOT}/build/asan08" \
    -DHNSWSTORE_BUILD_EXAMPLES=OFF -DHNSWSTORE_BUILD_BENCH=OFF
}

demo() {
  banner "build and run the quickstart example (preset 'release')"
  run cmake --preset release
  run cmake --build --preset release --target quickstart
  run "${REPO_ROOT}/build/release/examples/quickstart"
}

main() {
  if (($# == 0)) || { (($# > 1)) && [[ "$1" != "compare" && "$1" != "filtered" ]]; }; then
    usage >&2
    exit 2
  fi
  case "$1" in
    -h | --help | help) usage; exit 0 ;;
    deps) install_deps ;;
    demo) install_deps; demo ;;
    test) install_deps; preset_test release ;;
    asan) install_deps; preset_test asan ;;
    tsan) install_deps; tsan ;;
    fetch08) fetch_hnswlib08 ;;
    compare) install_deps; shift; compare "$@" ;;
    filtered) install_deps; shift; filtered "$@" ;;
    hnswlib08) install_deps; unit_tests_08 dev "${REPO_ROOT}/build/hnswlib08"; cross_version ;;
    asan08) install_deps; asan08 ;;
    all)
      install_deps
      preset_test release
      preset_test asan
      tsan
      unit_tests_08 dev "${REPO_ROOT}/build/hnswlib08"
      cross_version
      asan08
      ;;
    *) usage >&2; die "unknown mode '$1'" ;;
  esac
  banner "$1: done"
}

main "$@"
