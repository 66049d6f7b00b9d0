package org.spindle.qemu.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import org.spindle.machine.api.Machine;
import org.spindle.storage.api.Drive;
import org.spindle.storage.api.DriveManager;
import org.spindle.storage.api.RemovableMedia;

/** QMP's services with nothing behind them: commands that need a machine or drives fail, named. */
final class FakeServices implements QmpCommands.Services {
    final List<Integer> exits = new ArrayList<>();

    @Override
    public Machine machine() {
        throw new IllegalStateException("no machine in this test");
    }

    @Override
    public Optional<RemovableMedia> media(String slot) {
        return Optional.empty();
    }

    @Override
    public Optional<Drive> drive(String id) {
        return Optional.empty();
    }

    @Override
    public DriveManager drives() {
        throw new IllegalStateException("no drives in this test");
    }

    @Override
    public void exit(int status) {
        exits.add(status);
    }

    @Override
    public void addController(String id, String address) throws QmpError {
        throw QmpError.generic("no hot-plug in this test");
    }

    @Override
    public void deleteDevice(String id) throws QmpError {
        throw QmpError.generic("no hot-plug in this test");
    }
}
