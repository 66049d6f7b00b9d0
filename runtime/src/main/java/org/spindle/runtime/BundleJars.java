package org.spindle.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.stream.Stream;

import org.osgi.framework.Version;
import org.osgi.framework.VersionRange;

/** The bundle jars in a folder, found by symbolic name and version as {@code -runbundles} names them. */
final class BundleJars {
    record Jar(String symbolicName, Version version, Path path) {
    }

    private final List<Jar> jars;

    private BundleJars(List<Jar> jars) {
        this.jars = jars;
    }

    static BundleJars scan(Path folder) throws IOException {
        List<Jar> jars = new ArrayList<>();
        try (Stream<Path> files = Files.list(folder)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".jar")).sorted().toList()) {
                try (JarFile jar = new JarFile(file.toFile())) {
                    Manifest manifest = jar.getManifest();
                    String name = manifest == null ? null : manifest.getMainAttributes().getValue("Bundle-SymbolicName");
                    if (name != null) {
                        String version = manifest.getMainAttributes().getValue("Bundle-Version");
                        jars.add(new Jar(name.split(";")[0].strip(),
                                Version.parseVersion(version == null ? "0" : version.strip()), file));
                    }
                }
            }
        }
        return new BundleJars(jars);
    }

    /** The highest version of {@code symbolicName} within {@code range}, or {@code null}. */
    Jar find(String symbolicName, String range) {
        // a bare version means "this or later", as everywhere in OSGi
        VersionRange versions = new VersionRange(range);
        Jar best = null;
        for (Jar jar : jars) {
            if (jar.symbolicName().equals(symbolicName) && versions.includes(jar.version())
                    && (best == null || jar.version().compareTo(best.version()) > 0)) {
                best = jar;
            }
        }
        return best;
    }
}
