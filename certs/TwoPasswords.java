// Re-writes a PKCS#12 key entry with a key password that differs from the file password,
// through the Java KeyStore API, as Java-based SMSC tooling does. The openssl command line
// cannot produce such a file, and keytool refuses (-keypass is ignored for PKCS12).
//
// Run with the single-file launcher (JDK 11+), no compilation step:
//   java TwoPasswords.java SRC.p12 SRC_PASSWORD DEST.p12 FILE_PASSWORD KEY_PASSWORD ALIAS
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.Key;
import java.security.KeyStore;
import java.security.cert.Certificate;

public class TwoPasswords {
    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            System.err.println("usage: java TwoPasswords.java SRC.p12 SRC_PW DEST.p12 FILE_PW KEY_PW ALIAS");
            System.exit(2);
        }
        KeyStore src = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(args[0])) {
            src.load(in, args[1].toCharArray());
        }
        String alias = src.aliases().nextElement();
        Key key = src.getKey(alias, args[1].toCharArray());
        Certificate[] chain = src.getCertificateChain(alias);

        KeyStore dest = KeyStore.getInstance("PKCS12");
        dest.load(null, null);
        dest.setKeyEntry(args[5], key, args[4].toCharArray(), chain);
        try (OutputStream out = new FileOutputStream(args[2])) {
            dest.store(out, args[3].toCharArray());
        }
    }
}
