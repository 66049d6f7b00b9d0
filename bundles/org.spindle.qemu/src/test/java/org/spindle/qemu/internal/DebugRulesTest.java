package org.spindle.qemu.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.spindle.storage.api.StorageException;

class DebugRulesTest {
    @TempDir
    Path dir;

    @Test
    void rulesFilesAreReadAsQemusBlkdebugWritesThem() throws Exception {
        Path f = dir.resolve("rules.cfg");
        Files.writeString(f, "# ahci-test's\n[inject-error]\nevent = \"write_aio\"\nerrno = \"5\"\nonce = \"on\"\n\n"
                + "[inject-error]\nevent = \"read_aio\"\nsector = \"8\"\nimmediately = \"off\"\n");
        assertThat(DebugRules.read(f).injections()).containsExactly(new DebugRules.Injection("write_aio", 5, -1, true),
                new DebugRules.Injection("read_aio", 5, 8, false));
        Files.writeString(f, "[set-state]\nevent = \"read_aio\"\nstate = \"1\"\n");
        assertThatThrownBy(() -> DebugRules.read(f)).hasMessageContaining("line 1").hasMessageContaining("new_state is missing");
        Files.writeString(f, "[bogus]\n");
        assertThatThrownBy(() -> DebugRules.read(f)).hasMessageContaining("[bogus] is not supported");
        Files.writeString(f, "[inject-error]\nevent = \"write_aio\"\nerrno = \"x\"\n");
        assertThatThrownBy(() -> DebugRules.read(f)).hasMessageContaining("errno = x is not a number");
        Files.writeString(f, "event = \"write_aio\"\n");
        assertThatThrownBy(() -> DebugRules.read(f)).hasMessageContaining("not KEY = VALUE in an [inject-error]");
    }

    @Test
    void injectedErrorsFollowEventSectorAndOnce() throws Exception {
        DebugRules r = new DebugRules("d", List.of(new DebugRules.Injection("write_aio", 28, -1, true),
                new DebugRules.Injection("read_aio", 5, 8, false)));
        assertThat(r.reached("write_aio", 0, 512)).isEqualTo(28);
        assertThat(r.reached("write_aio", 0, 512)).isZero();
        assertThat(r.reached("read_aio", 0, 4096)).isZero();           // sectors 0-7
        assertThat(r.reached("read_aio", 4096, 512)).isEqualTo(5);     // sector 8, every time
        assertThat(r.reached("read_aio", 4096, 512)).isEqualTo(5);
        assertThat(r.reached("flush_to_os", 0, 0)).isZero();
    }

    @Test
    void libqossRetryScriptFailsTheFirstFlushOnceThroughItsStates() throws Exception {
        // the file libqos's prepare_blkdebug_script() writes for ahci-test's flush retry
        Path f = dir.resolve("retry.cfg");
        Files.writeString(f, "[inject-error]\nevent = \"flush_to_disk\"\nerrno = \"5\"\nstate = \"1\"\n"
                + "immediately = \"off\"\nonce = \"on\"\n\n[set-state]\nevent = \"flush_to_disk\"\nnew_state = \"2\"\n");
        DebugRules r = new DebugRules("d", DebugRules.read(f));
        assertThat(r.reached("flush_to_os", 0, 0)).isZero();
        assertThat(r.reached("flush_to_disk", 0, 0)).isEqualTo(5);
        assertThat(r.reached("flush_to_disk", 0, 0)).isZero();
        // a rule for state 2 only, as a file may have
        DebugRules staged = new DebugRules("d", new DebugRules.Rules(List.of(new DebugRules.Injection("read_aio", 5, -1,
                false, 2)), List.of(new DebugRules.SetState("write_aio", 1, 2))));
        assertThat(staged.reached("read_aio", 0, 512)).isZero();
        assertThat(staged.reached("write_aio", 0, 512)).isZero();
        assertThat(staged.reached("read_aio", 0, 512)).isEqualTo(5);
    }

    @Test
    void aBreakpointHoldsTheFirstRequestUntilResumed() throws Exception {
        DebugRules r = new DebugRules("d", List.of());
        assertThat(r.command("break flush_to_os A")).isEmpty();
        assertThat(r.command("break nonsense B")).contains("Invalid argument");
        CompletableFuture<Integer> held = CompletableFuture.supplyAsync(() -> {
            try {
                return r.reached("flush_to_os", 0, 0);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        assertThat(r.command("wait_break A")).isEmpty();
        assertThat(held).isNotDone();
        // the breakpoint was used up: the next flush passes
        assertThat(r.reached("flush_to_os", 0, 0)).isZero();
        assertThat(r.command("resume A")).isEmpty();
        assertThat(held.get(5, TimeUnit.SECONDS)).isZero();
        assertThat(r.command("resume A")).contains("No such file or directory");
        assertThat(r.command("remove_break Z")).contains("No such file or directory");
        assertThat(r.command("aio_write 0 512")).contains("not 'aio_write'");
    }

    @Test
    void aStopPolicyRetriesUntilTheRequestSucceedsAndReportLetsTheErrorThrough() throws Exception {
        DebugRules r = new DebugRules("d", List.of(new DebugRules.Injection("write_aio", 5, -1, true)));
        ArrayDisk disk = new ArrayDisk(4096);
        List<String> failures = new ArrayList<>();
        DebugDrive stop = new DebugDrive(disk, "d", r, "stop", "report", (drive, write, action, e) -> {
            failures.add(drive + " " + (write ? "write" : "read") + " " + action);
            return action.equals("stop");
        });
        ByteBuffer src = ByteBuffer.wrap(new byte[] {1, 2, 3, 4});
        stop.write(512, src);
        assertThat(failures).containsExactly("d write stop");
        assertThat(disk.bytes()[512]).isEqualTo((byte) 1);
        assertThat(src.hasRemaining()).isFalse();

        DebugRules once = new DebugRules("d", List.of(new DebugRules.Injection("read_aio", 5, -1, true)));
        DebugDrive report = new DebugDrive(disk, "d", once, "enospc", "report", (drive, write, action, e) -> false);
        assertThatThrownBy(() -> report.read(0, ByteBuffer.allocate(512))).isInstanceOf(StorageException.class)
                .hasMessageContaining("blkdebug error injected at read_aio (errno 5)");
        assertThat(DebugDrive.action("enospc", new StorageException(StorageException.Kind.IO, "x",
                new DebugDrive.InjectedError(28)))).isEqualTo("stop");
        assertThat(DebugDrive.action("enospc", new StorageException(StorageException.Kind.IO, "x"))).isEqualTo("report");
    }
}
