package org.spindle.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BndrunTest {
    @TempDir
    Path dir;

    @Test
    void readsRunBundlesAndPropertiesAsTheResolverWritesThem() throws Exception {
        Path file = Files.writeString(dir.resolve("x.bndrun"), """
                # comment
                -runrequires: bnd.identity;id='a'
                -runproperties: \\
                    gosh.args=--nointeractive,\\
                    quoted='a,b'
                -runbundles: \\
                \torg.apache.felix.scr;version='[2.2.18,2.2.19)';startlevel=11,\\
                \torg.spindle.storage.api;version='[0.1.0,0.1.1)'
                """);
        Bndrun bndrun = Bndrun.read(file);
        assertThat(bndrun.runBundles()).containsExactly(
                new Bndrun.RunBundle("org.apache.felix.scr", "[2.2.18,2.2.19)", 11),
                new Bndrun.RunBundle("org.spindle.storage.api", "[0.1.0,0.1.1)", 0));
        assertThat(bndrun.runProperties()).containsEntry("gosh.args", "--nointeractive")
                .containsEntry("quoted", "a,b");
    }

    @Test
    void theCommittedBndrunIsResolved() throws Exception {
        Bndrun bndrun = Bndrun.read(Path.of("spindle.bndrun"));
        assertThat(bndrun.runBundles()).extracting(Bndrun.RunBundle::symbolicName)
                .contains("org.spindle.storage.core", "org.apache.felix.scr", "org.apache.felix.fileinstall");
    }
}
