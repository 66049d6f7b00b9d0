package org.spindle.it;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import org.ops4j.pax.tinybundles.core.TinyBundles;
import org.osgi.framework.Constants;
import org.spindle.it.magic.MagicActivator;
import org.spindle.it.magic.MagicDisk;
import org.spindle.it.magic.MagicFormat;

/**
 * Builds the third-party format bundle with TinyBundles. Kept apart from the test class, which is
 * also loaded inside the container, where TinyBundles is not.
 */
final class MagicBundle {
    private MagicBundle() {
    }

    static Path build() throws IOException {
        Path jar = Files.createTempFile("magic-format", ".jar");
        try (InputStream in = TinyBundles.bundle()
                .add(MagicFormat.class).add(MagicDisk.class).add(MagicActivator.class)
                .set(Constants.BUNDLE_SYMBOLICNAME, "com.example.spindle.magic")
                .set(Constants.BUNDLE_VERSION, "1.0.0")
                .set(Constants.BUNDLE_ACTIVATOR, MagicActivator.class.getName())
                // bnd 7.0 would require osgi.ee=UNKNOWN of Java 25 classes (see cnf/build.bnd)
                .set("-noee", "true")
                .build(TinyBundles.withBnd())) {
            Files.copy(in, jar, StandardCopyOption.REPLACE_EXISTING);
        }
        return jar;
    }
}
