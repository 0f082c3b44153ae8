#!/usr/bin/env bash
# Generates smppd's development PKI: a CA, an SMSC server certificate for localhost and
# 127.0.0.1, a client certificate, and the PKCS#12 / PEM files that exercise every keystore
# case smppd reads. See certs/README.md for each file, its passwords and its purpose.
#
# usage: certs/gen-dev-pki.sh [OUTPUT_DIR]     (default: certs/dev next to this script)
#        FORCE=1 certs/gen-dev-pki.sh          (regenerate everything)
#
# Idempotent: a file that already exists is kept, so running it again changes nothing.
# Needs the openssl command line (3.x, with the legacy provider for the -legacy bundle); the
# Java-written bundles need `java` and `keytool` (JDK 11+) and are skipped without them.
# These are development credentials with published passwords: never use them in production.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/dev}"
mkdir -p "$out"
cd "$out"

if [ "${FORCE:-0}" = 1 ]; then
    rm -f ./*.pem ./*.key ./*.p12 ./*.srl ./*.csr
fi

days=36500          # 100 years: committed dev files must not expire under the tests
pass=changeit       # the Java default store password, so keytool users recognise it
file_pass=filepass  # the two-password bundle's file password
key_pass=keypass    # ... and its key password

step() { printf '  %-28s %s\n' "$1" "$2"; }

# make FILE COMMAND...: run COMMAND only when FILE is missing.
make() {
    local file="$1"
    shift
    if [ -e "$file" ]; then
        step "$file" "kept"
    else
        "$@"
        step "$file" "written"
    fi
}

new_key() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }

ca() {
    new_key ca.key
    openssl req -x509 -new -key ca.key -sha256 -days "$days" -out ca.pem \
        -subj "/O=smppd development/CN=smppd dev CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign"
}

# leaf NAME SUBJECT EXTENSIONS: a CA-signed certificate NAME.pem with key NAME.key.
leaf() {
    local name="$1" subject="$2" ext="$3"
    new_key "$name.key"
    openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr"
    printf '%b' "$ext" >"$name.ext"
    openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
        -days "$days" -sha256 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
}

server() {
    leaf server "/O=smppd development/CN=localhost" \
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"
}

client() {
    leaf client "/O=smppd development/CN=smppd dev client" \
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n"
}

# p12 NAME OUT [EXTRA...]: NAME's key and certificate plus the CA in one PKCS#12 file.
p12() {
    local name="$1" dest="$2"
    shift 2
    openssl pkcs12 -export -inkey "$name.key" -in "$name.pem" -certfile ca.pem \
        -name "smppd-$name" -out "$dest" -passout "pass:$pass" "$@"
}

echo "smppd dev PKI in $out"
make ca.pem ca
make server.pem server
make client.pem client
make client-chain.pem sh -c 'cat client.pem ca.pem > client-chain.pem'
make server-chain.pem sh -c 'cat server.pem ca.pem > server-chain.pem'
# OpenSSL 3 defaults: PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), SHA-256 MAC.
make server.p12 p12 server server.p12
make client.p12 p12 client client.p12
# -legacy: pbeWithSHAAnd3-KeyTripleDES-CBC key bag, pbeWithSHAAnd40BitRC2-CBC certificates,
# SHA-1 MAC, as OpenSSL 1.x and older Java wrote them.
make client-legacy.p12 p12 client client-legacy.p12 -legacy
# A trust store holding only the CA. OpenSSL adds no "trusted" attribute; smppd trusts it.
make truststore.p12 openssl pkcs12 -export -nokeys -in ca.pem -name smppd-dev-ca \
    -out truststore.p12 -passout "pass:$pass"

if command -v java >/dev/null 2>&1 && command -v keytool >/dev/null 2>&1; then
    # Written by the Java KeyStore API with different file and key passwords.
    make client-two-passwords.p12 java "$here/TwoPasswords.java" client.p12 "$pass" \
        client-two-passwords.p12 "$file_pass" "$key_pass" smppd-client
    # Re-written by keytool (JDK defaults), same password for file and key.
    make client-keytool.p12 keytool -importkeystore -noprompt -srckeystore client.p12 \
        -srcstoretype PKCS12 -srcstorepass "$pass" -destkeystore client-keytool.p12 \
        -deststoretype PKCS12 -deststorepass "$pass" -J-Duser.language=en
    # A keytool trust store: the CA carries Java's "trusted" attribute here.
    make truststore-keytool.p12 keytool -importcert -noprompt -trustcacerts -alias smppd-dev-ca \
        -file ca.pem -keystore truststore-keytool.p12 -storetype PKCS12 -storepass "$pass"
else
    echo "  java/keytool not found: Java-written bundles skipped"
fi
rm -f ca.srl
echo "done"
