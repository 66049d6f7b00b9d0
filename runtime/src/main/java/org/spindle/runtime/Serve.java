package org.spindle.runtime;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code spindle serve}: the image server ({@code serve.bndrun}: Felix HTTP with Jetty and
 * {@code org.spindle.server}) over one directory, configured from the command line.
 *
 * <pre>
 * serve [--host ADDR] [--port N] [--cors ORIGIN]... [--corp POLICY] [--private] [--lease-kid KID]
 *       [--max-concurrent N] [--max-range SIZE] [--conf DIR] DIR
 * </pre>
 * Lease keys come from the environment ({@code SPINDLE_LEASE_KEYS=kid=base64,…}), never from the
 * command line, where every user of the machine could read them; so do the lease issuer's and the
 * metrics' tokens ({@code SPINDLE_LEASE_ISSUER_TOKEN}, {@code SPINDLE_METRICS_TOKEN}). {@code --conf}
 * adds a folder of further configurations (Felix HTTP's TLS settings, say).
 */
final class Serve {
    static final String USAGE = "usage: serve [--host ADDR] [--port N] [--cors ORIGIN]... [--corp POLICY] [--private]"
            + " [--lease-kid KID] [--max-concurrent N] [--max-range SIZE] [--conf DIR] DIR";

    private Serve() {
    }

    static Launcher.Options parse(String[] args, Path home) throws Launcher.UsageException, IOException {
        String host = "127.0.0.1";
        String port = "8080";
        List<String> cors = new ArrayList<>();
        Map<String, String> config = new LinkedHashMap<>();
        List<Path> configDirs = new ArrayList<>();
        Path dir = null;
        String kid = null;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            switch (arg) {
                case "--host" -> host = value(args, ++i, arg);
                case "--port" -> {
                    port = value(args, ++i, arg);
                    if (!port.matches("[0-9]{1,5}") || Integer.parseInt(port) > 65535) {
                        throw new Launcher.UsageException("--port must be a port number (0 to 65535), not '" + port + "'");
                    }
                }
                case "--cors" -> {
                    String origin = value(args, ++i, arg);
                    if (!origin.equals("*") && !origin.matches("https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")) {
                        throw new Launcher.UsageException("--cors takes * or an origin such as https://app.example"
                                + " (no path, no trailing /), not '" + origin + "'");
                    }
                    cors.add(origin);
                }
                case "--corp" -> {
                    String corp = value(args, ++i, arg);
                    if (!List.of("same-origin", "same-site", "cross-origin").contains(corp)) {
                        throw new Launcher.UsageException("--corp is same-origin, same-site or cross-origin, not '"
                                + corp + "'");
                    }
                    config.put("corp", quote(corp));
                }
                case "--private" -> config.put("public.default", "B\"false\"");
                case "--lease-kid" -> {
                    kid = value(args, ++i, arg);
                    config.put("lease.kid", quote(kid));
                }
                case "--max-concurrent" -> {
                    String n = value(args, ++i, arg);
                    if (!n.matches("[0-9]{1,9}")) {
                        throw new Launcher.UsageException("--max-concurrent must be a number, not '" + n + "'");
                    }
                    config.put("max.concurrent", "I\"" + n + "\"");
                }
                case "--max-range" -> {
                    String size = value(args, ++i, arg);
                    if (!size.matches("[1-9][0-9]{0,12}[KkMmGg]?")) {
                        throw new Launcher.UsageException("--max-range is a size such as 8M, not '" + size + "'");
                    }
                    config.put("max.range", quote(size));
                }
                case "--conf" -> {
                    Path extra = Path.of(value(args, ++i, arg));
                    if (!Files.isDirectory(extra)) {
                        throw new Launcher.UsageException("--conf " + extra + " is not a folder");
                    }
                    configDirs.add(extra);
                }
                default -> {
                    if (arg.startsWith("-") || dir != null) {
                        throw new Launcher.UsageException("unknown argument '" + arg + "' (" + USAGE + ")");
                    }
                    dir = Path.of(arg);
                }
            }
        }
        if (dir == null) {
            throw new Launcher.UsageException("no directory to serve (" + USAGE + ")");
        }
        if (!Files.isDirectory(dir)) {
            throw new Launcher.UsageException(dir + " is not a folder");
        }
        config.put("dir", quote(dir.toAbsolutePath().normalize().toString()));
        if (!cors.isEmpty()) {
            config.put("cors.origins", "[" + String.join(",", cors.stream().map(Serve::quote).toList()) + "]");
        }
        String keys = System.getenv("SPINDLE_LEASE_KEYS");
        List<String> kids = new ArrayList<>();
        List<String> entries = new ArrayList<>();
        for (String entry : keys == null ? new String[0] : keys.split(",")) {
            String e = entry.strip();
            if (e.isEmpty()) {
                continue;
            }
            int eq = e.indexOf('=');
            byte[] key;
            try {
                key = eq > 0 ? java.util.Base64.getDecoder().decode(e.substring(eq + 1).strip()) : new byte[0];
            } catch (IllegalArgumentException bad) {
                key = new byte[0];
            }
            if (eq <= 0 || key.length < 32) {
                throw new Launcher.UsageException("SPINDLE_LEASE_KEYS holds kid=base64 entries of 32 bytes or more;"
                        + " entry " + (entries.size() + 1) + " is not one");
            }
            kids.add(e.substring(0, eq).strip());
            entries.add(e);
        }
        if (kid != null && !kids.contains(kid)) {
            throw new Launcher.UsageException("--lease-kid " + kid + " is not among the keys of SPINDLE_LEASE_KEYS "
                    + kids);
        }
        if (kid == null && kids.size() > 1) {
            throw new Launcher.UsageException("SPINDLE_LEASE_KEYS holds " + kids.size() + " keys: say which signs with"
                    + " --lease-kid");
        }
        if (!entries.isEmpty()) {
            config.put("lease.keys", "[" + String.join(",", entries.stream().map(Serve::quote).toList()) + "]");
        }
        // Jetty logs through slf4j-simple, which reads system properties: warnings and errors only
        System.getProperties().putIfAbsent("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        Path generated = Files.createTempDirectory("spindle-serve-");
        generated.toFile().deleteOnExit();
        Path file = generated.resolve("org.spindle.server.config");
        StringBuilder text = new StringBuilder("# written by spindle serve\n");
        config.forEach((k, v) -> text.append(k).append('=').append(v).append('\n'));
        Files.writeString(file, text, StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        file.toFile().deleteOnExit();
        configDirs.add(0, generated);
        System.out.println("Spindle serves " + dir.toAbsolutePath().normalize() + " at http://" + host + ":" + port
                + "/v1/images");
        return new Launcher.Options(home, generated, false, false, "serve.bndrun", List.copyOf(configDirs),
                Map.of("org.osgi.service.http.port", port, "org.apache.felix.http.host", host,
                        "org.osgi.service.http.host", host));
    }

    private static String value(String[] args, int i, String option) throws Launcher.UsageException {
        if (i >= args.length) {
            throw new Launcher.UsageException(option + " needs a value (" + USAGE + ")");
        }
        return args[i];
    }

    /** A string in the Felix configuration file format. */
    static String quote(String value) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : value.toCharArray()) {
            if (c == '"' || c == '\\') {
                sb.append('\\');
            }
            sb.append(c);
        }
        return sb.append('"').toString();
    }
}
