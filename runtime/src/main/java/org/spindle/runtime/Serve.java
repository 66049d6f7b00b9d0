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
                case "--cors" -> cors.add(value(args, ++i, arg));
                case "--corp" -> config.put("corp", quote(value(args, ++i, arg)));
                case "--private" -> config.put("public.default", "B\"false\"");
                case "--lease-kid" -> config.put("lease.kid", quote(value(args, ++i, arg)));
                case "--max-concurrent" -> {
                    String n = value(args, ++i, arg);
                    if (!n.matches("[0-9]{1,9}")) {
                        throw new Launcher.UsageException("--max-concurrent must be a number, not '" + n + "'");
                    }
                    config.put("max.concurrent", "I\"" + n + "\"");
                }
                case "--max-range" -> config.put("max.range", quote(value(args, ++i, arg)));
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
        if (keys != null && !keys.isBlank()) {
            config.put("lease.keys", "[" + String.join(",", java.util.Arrays.stream(keys.split(","))
                    .map(String::strip).filter(k -> !k.isEmpty()).map(Serve::quote).toList()) + "]");
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
