#!/usr/bin/env bash
# Builds the Debian package: target/debian/smppd_VERSION-1_ARCH.deb.
#
#   packaging/build-deb.sh [CARGO BUILD FLAGS, e.g. --features tls11]
#
# 1. cargo build --release (the flags are passed on);
# 2. with that binary, generate into target/assets/ (relative to the repository, whatever
#    CARGO_TARGET_DIR says): the man pages and completions (`smppd generate`), the packaged
#    unit (config/smppd.service with ExecStart naming /usr/bin/smppd) and the packaged
#    configuration (config/smppd.example.toml with every [channel-NAME] section commented
#    out, checked with `smppd check-config`);
# 3. cargo deb --no-build, with the metadata in Cargo.toml's [package.metadata.deb].
#
# Needs cargo-deb (cargo install cargo-deb --locked) and dpkg-shlibdeps (package dpkg-dev),
# which works out the package's dependencies. SOURCE_DATE_EPOCH, when set, dates the man
# pages and the archive's files; it defaults to the time of the commit built.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
    echo "build-deb: $*" >&2
    exit 1
}

cargo deb --version >/dev/null 2>&1 || fail "cargo-deb is missing: cargo install cargo-deb --locked"
command -v dpkg-shlibdeps >/dev/null 2>&1 || fail "dpkg-shlibdeps is missing: apt-get install dpkg-dev"

if [ -z "${SOURCE_DATE_EPOCH:-}" ] && commit_time=$(git log -1 --format=%ct 2>/dev/null); then
    export SOURCE_DATE_EPOCH="$commit_time"
fi

cargo build --release --locked "$@"
target_dir=$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
smppd="$target_dir/release/smppd"
[ -x "$smppd" ] || fail "no binary at $smppd"

assets=target/assets
rm -rf "$assets"
mkdir -p "$assets"
"$smppd" generate man "$assets/man" >/dev/null
"$smppd" generate completions "$assets/completions" >/dev/null

# The unit: the repository's, with the packaged binary's path.
sed 's|^ExecStart=/usr/local/bin/smppd |ExecStart=/usr/bin/smppd |' config/smppd.service \
    >"$assets/smppd.service"
grep -q '^ExecStart=/usr/bin/smppd run ' "$assets/smppd.service" ||
    fail "config/smppd.service: no 'ExecStart=/usr/local/bin/smppd run ...' line to rewrite"
if grep -v '^#' "$assets/smppd.service" | grep -q '/usr/local/'; then
    fail "config/smppd.service names /usr/local/ outside its ExecStart line"
fi

# The configuration: the annotated example with every channel commented out, so that the
# service starts with nothing to do until one is filled in.
{
    cat <<'EOF'
# Installed by the smppd Debian package. Every [channel-NAME] section below is commented out,
# so smppd starts and sends nothing: uncomment one, fill it in, then
#   smppd check-config /etc/smppd/smppd.toml && systemctl reload smppd
# This file is a conffile: upgrades keep your changes. The original is in
# /usr/share/doc/smppd/examples/smppd.example.toml.
#
EOF
    awk '
        /^[[:space:]]*\[/ { channel = ($0 ~ /^[[:space:]]*\[channel-/) }
        channel && $0 !~ /^[[:space:]]*(#|$)/ { $0 = "# " $0 }
        { print }
    ' config/smppd.example.toml
} >"$assets/smppd.toml"
if grep -q '^[[:space:]]*\[channel-' "$assets/smppd.toml"; then
    fail "$assets/smppd.toml still has a channel"
fi
# The store path in a check outside systemd is beside the file; nothing is created.
"$smppd" check-config "$assets/smppd.toml" >"$assets/check-config.txt" ||
    fail "the packaged configuration does not pass check-config: $(cat "$assets/check-config.txt")"

# --strip: the release profile keeps line tables (debug = 1) for perf; the package does not.
cargo deb --no-build --locked --strip --output target/debian/
