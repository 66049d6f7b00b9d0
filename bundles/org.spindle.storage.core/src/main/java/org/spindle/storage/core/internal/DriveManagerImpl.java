package org.spindle.storage.core.internal;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.Comparator;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.FrameworkListener;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.cm.ManagedServiceFactory;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.Drive;
import org.spindle.storage.api.DriveDTO;
import org.spindle.storage.api.DriveManager;
import org.spindle.storage.api.DriveSpecDTO;
import org.spindle.storage.api.DriveState;
import org.spindle.storage.api.MediaType;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageBackendProvider;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.CachedDisk;
import org.spindle.storage.core.DiskOpener;

/**
 * Turns {@code org.spindle.drive~NAME} configurations into {@link Drive} services.
 *
 * <p>Every change (a configuration, a backend provider or a format coming or going, the framework
 * finishing its start) is handled in order on one thread, so a drive's state has one writer and is
 * published as an immutable {@link DriveDTO}. A drive is registered only once its disk is fully open,
 * and is unregistered and closed before anything it depends on goes away: when a provider or format
 * service leaves, its drives are taken down before the unbind returns.
 *
 * <p>Opening waits for the framework to finish starting, so that a probe never runs before all
 * installed formats are there (a qcow2 image must not be opened as raw because qcow2's bundle started
 * a moment later). For the same reason a probed drive whose format goes away waits for that format
 * to come back rather than being probed again.
 */
@Component(service = DriveManager.class, immediate = true)
public final class DriveManagerImpl implements DriveManager {
    private static final Logger LOG = System.getLogger(DriveManagerImpl.class.getName());
    private static final Duration ATTACH_WAIT = Duration.ofSeconds(15);
    private static final long QUIET_NANOS = TimeUnit.MILLISECONDS.toNanos(300);

    /** One configuration and what became of it. Mutated only on the event thread. */
    private static final class Slot {
        final String pid;
        DriveConfig config;
        DriveState state = DriveState.PENDING;
        StorageException failure;
        volatile DriveHandle handle;
        ServiceRegistration<?> registration;
        /** The images the drive's disk is made of, top first; empty when not attached. */
        List<DiskOpener.Layer> layers = List.of();
        /** The format a probe chose, kept when that format went away: wait for it, do not re-probe. */
        String pinnedFormat;
        volatile DriveDTO snapshot;

        Slot(String pid) {
            this.pid = pid;
        }
    }

    private final BundleContext context;
    private final ConfigurationAdmin configAdmin;
    private final OsgiStorageRegistry registry = new OsgiStorageRegistry();
    private final DiskOpener opener = new DiskOpener(registry);
    private final Map<String, Slot> slots = new ConcurrentHashMap<>();
    private final ExecutorService events = Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("spindle-drives").daemon().factory());
    private volatile Thread eventThread;
    private volatile boolean frameworkStarted;
    /** Set on the event thread when deactivating: events still queued then must not open anything. */
    private volatile boolean deactivated;
    private volatile long lastConfigEvent = System.nanoTime();
    private FrameworkListener startListener;
    private ServiceRegistration<ManagedServiceFactory> factoryRegistration;

    @Activate
    public DriveManagerImpl(BundleContext context, @Reference ConfigurationAdmin configAdmin) {
        this.context = context;
        this.configAdmin = configAdmin;
        events.execute(() -> eventThread = Thread.currentThread());
    }

    @Activate
    void activate() {
        startListener = event -> {
            if (event.getType() == FrameworkEvent.STARTED) {
                post(this::frameworkStarted);
            }
        };
        context.addFrameworkListener(startListener);
        if (context.getBundle(Constants.SYSTEM_BUNDLE_LOCATION).getState() == Bundle.ACTIVE) {
            post(this::frameworkStarted);
        }
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(Constants.SERVICE_PID, Drive.FACTORY_PID);
        props.put(Constants.SERVICE_DESCRIPTION, "Spindle drives");
        factoryRegistration = context.registerService(ManagedServiceFactory.class, new DriveConfigurations(), props);
    }

    @Deactivate
    void deactivate() {
        factoryRegistration.unregister();
        context.removeFrameworkListener(startListener);
        call(() -> {
            deactivated = true;
            for (Slot slot : slots.values()) {
                takeDown(slot);
            }
            slots.clear();
            return null;
        });
        events.shutdown();
    }

    // ---- services coming and going (DS calls these; removal waits until dependent drives are down)

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void addProvider(StorageBackendProvider provider, Map<String, Object> props) {
        registry.addProvider(provider, props);
        post(this::retryWaiting);
    }

    void removeProvider(StorageBackendProvider provider) {
        registry.removeProvider(provider);
        call(() -> {
            for (Slot slot : slots.values()) {
                if (slot.layers.stream().anyMatch(layer -> layer.provider() == provider)) {
                    lost(slot, "the backend provider for '" + slot.layers.stream().filter(l -> l.provider() == provider)
                            .findFirst().orElseThrow().location().getScheme() + "' went away");
                }
            }
            return null;
        });
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void addFormat(DiskFormat format, Map<String, Object> props) {
        registry.addFormat(format, props);
        post(this::retryWaiting);
    }

    void removeFormat(DiskFormat format) {
        registry.removeFormat(format);
        call(() -> {
            for (Slot slot : slots.values()) {
                if (slot.layers.stream().anyMatch(layer -> layer.format() == format)) {
                    if (slot.layers.getFirst().format() == format) {
                        slot.pinnedFormat = format.name();
                    }
                    lost(slot, "the format '" + format.name() + "' went away");
                }
            }
            return null;
        });
    }

    // ---- DriveManager

    @Override
    public List<DriveDTO> drives() {
        return slots.values().stream().map(DriveManagerImpl::current).filter(d -> d != null)
                .sorted(Comparator.comparing((DriveDTO d) -> d.id).thenComparing(d -> d.configuration)).toList();
    }

    /** The slot's snapshot, with live block cache counters when it has a drive. */
    private static DriveDTO current(Slot slot) {
        DriveHandle handle = slot.handle;
        DriveDTO snapshot = slot.snapshot;
        return handle != null && snapshot != null && snapshot.state == DriveState.ATTACHED ? handle.info() : snapshot;
    }

    @Override
    public Optional<DriveDTO> drive(String id) {
        return drives().stream().filter(d -> d.id.equals(id)).findFirst();
    }

    @Override
    public synchronized DriveDTO attach(DriveSpecDTO spec) throws StorageException {
        Dictionary<String, Object> props = DriveConfig.properties(spec);
        if (drive(spec.id).isPresent()) {
            throw new StorageException(Kind.IN_USE, "a drive with this id exists already (detach it first)")
                    .withDrive(spec.id).withOperation(Operation.CONFIGURE);
        }
        String pid;
        try {
            Configuration configuration = configAdmin.getFactoryConfiguration(Drive.FACTORY_PID, spec.id, "?");
            if (configuration.getProperties() != null) {
                throw new StorageException(Kind.IN_USE, "the configuration " + configuration.getPid() + " exists already")
                        .withDrive(spec.id).withOperation(Operation.CONFIGURE);
            }
            configuration.update(props);
            pid = configuration.getPid();
        } catch (IOException e) {
            if (e instanceof StorageException se) {
                throw se;
            }
            throw new StorageException(Kind.IO, "cannot store the configuration: " + e.getMessage(), e)
                    .withDrive(spec.id).withOperation(Operation.CONFIGURE);
        }
        long deadline = System.nanoTime() + ATTACH_WAIT.toNanos();
        DriveDTO dto = null;
        while (System.nanoTime() < deadline) {
            Slot slot = slots.get(pid);
            dto = slot == null ? null : slot.snapshot;
            if (dto != null && (dto.state != DriveState.PENDING || !frameworkStarted)) {
                return dto;
            }
            sleep(10);
        }
        if (dto != null) {
            return dto;
        }
        throw new StorageException(Kind.IO, "the configuration " + pid + " was stored but not delivered within "
                + ATTACH_WAIT.toSeconds() + " s; is Configuration Admin running?").withDrive(spec.id);
    }

    @Override
    public boolean detach(String id) throws StorageException {
        Optional<DriveDTO> drive = drive(id);
        if (drive.isEmpty()) {
            return false;
        }
        String pid = drive.get().configuration;
        try {
            Configuration[] found = configAdmin.listConfigurations("(" + Constants.SERVICE_PID + "=" + escape(pid) + ")");
            if (found != null) {
                for (Configuration c : found) {
                    c.delete();
                }
            }
        } catch (IOException | org.osgi.framework.InvalidSyntaxException e) {
            throw new StorageException(Kind.IO, "cannot delete the configuration " + pid + ": " + e.getMessage(), e)
                    .withDrive(id).withOperation(Operation.CONFIGURE);
        }
        long deadline = System.nanoTime() + ATTACH_WAIT.toNanos();
        while (slots.containsKey(pid) && System.nanoTime() < deadline) {
            sleep(10);
        }
        return true;
    }

    @Override
    public List<DriveDTO> awaitSettled(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Future<?> marker;
            try {
                marker = events.submit(() -> { });
            } catch (RejectedExecutionException e) {
                break;
            }
            try {
                marker.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (ExecutionException | TimeoutException e) {
                break;
            }
            boolean pending = slots.values().stream()
                    .anyMatch(s -> s.snapshot == null || s.snapshot.state == DriveState.PENDING);
            if (frameworkStarted && !pending && System.nanoTime() - lastConfigEvent >= QUIET_NANOS) {
                break;
            }
            Thread.sleep(20);
        }
        return drives();
    }

    // ---- event handlers: run on the event thread only

    private final class DriveConfigurations implements ManagedServiceFactory {
        @Override
        public String getName() {
            return "Spindle drives";
        }

        @Override
        public void updated(String pid, Dictionary<String, ?> properties) {
            lastConfigEvent = System.nanoTime();
            Hashtable<String, Object> copy = new Hashtable<>();
            for (var keys = properties.keys(); keys.hasMoreElements(); ) {
                String key = keys.nextElement();
                copy.put(key, properties.get(key));
            }
            post(() -> configured(pid, copy));
        }

        @Override
        public void deleted(String pid) {
            lastConfigEvent = System.nanoTime();
            post(() -> removed(pid));
        }
    }

    private void frameworkStarted() {
        if (frameworkStarted) {
            return;
        }
        frameworkStarted = true;
        for (Slot slot : slots.values()) {
            if (slot.state == DriveState.PENDING) {
                tryAttach(slot);
            }
        }
    }

    private void configured(String pid, Dictionary<String, Object> props) {
        if (deactivated) {
            return;
        }
        Slot slot = slots.computeIfAbsent(pid, Slot::new);
        DriveConfig config;
        try {
            config = DriveConfig.parse(pid, props);
        } catch (StorageException e) {
            takeDown(slot);
            slot.config = null;
            fail(slot, DriveState.FAILED, e);
            return;
        }
        if (config.equals(slot.config) && slot.state == DriveState.ATTACHED) {
            return; // Configuration Admin redelivers unchanged configurations; nothing to do
        }
        takeDown(slot);
        slot.config = config;
        slot.pinnedFormat = null;
        tryAttach(slot);
    }

    private void removed(String pid) {
        Slot slot = slots.remove(pid);
        if (slot != null) {
            takeDown(slot);
            LOG.log(Level.INFO, "drive {0} detached", slot.config == null ? pid : slot.config.id());
            // the image or the id it held may be what another drive was waiting for
            for (Slot other : slots.values()) {
                if (other.state == DriveState.FAILED && other.failure != null && other.failure.kind() == Kind.IN_USE) {
                    tryAttach(other);
                }
            }
        }
    }

    private void retryWaiting() {
        for (Slot slot : slots.values()) {
            if (slot.state == DriveState.WAITING) {
                tryAttach(slot);
            }
        }
    }

    private void lost(Slot slot, String why) {
        takeDown(slot);
        fail(slot, DriveState.WAITING, new StorageException(Kind.BACKEND_UNAVAILABLE, why + "; waiting for it to return")
                .withDrive(slot.config.id()).withLocation(DiskOpener.reference(slot.config.backend())));
    }

    private void tryAttach(Slot slot) {
        try {
            attachNow(slot);
        } catch (RuntimeException e) {
            // a bug in a provider or format must not stop the drives after this one from being handled
            takeDown(slot);
            fail(slot, DriveState.FAILED, new StorageException(Kind.IO, "attaching failed unexpectedly: " + e, e)
                    .withDrive(slot.config == null ? slot.pid : slot.config.id()));
        }
    }

    private void attachNow(Slot slot) {
        DriveConfig config = slot.config;
        if (config == null || deactivated) {
            return;
        }
        if (!frameworkStarted) {
            slot.state = DriveState.PENDING;
            slot.failure = null;
            publish(slot);
            return;
        }
        for (Slot other : slots.values()) {
            if (other != slot && other.config != null && other.config.id().equals(config.id())
                    && other.state != DriveState.FAILED) {
                fail(slot, DriveState.FAILED, new StorageException(Kind.IN_USE,
                        "the drive id is taken by the configuration " + other.pid).withDrive(config.id()));
                return;
            }
        }
        boolean cd = config.media() == MediaType.CDROM || config.sectorSize() == MediaType.CD_SECTOR_SIZE;
        OpenOptions options = OpenOptions.defaults().withReadOnly(config.readOnly() || cd)
                .withLogicalSectorSize(cd ? MediaType.CD_SECTOR_SIZE : config.sectorSize());
        String format = slot.pinnedFormat != null ? slot.pinnedFormat : config.format();
        DiskOpener.Opened opened;
        MediaType media;
        try {
            opened = config.overlay() == null ? opener.open(config.backend(), format, options)
                    : opener.openOverlay(config.overlay(), config.backend(), format, options);
            try {
                media = mediaOf(config, opened.disk());
            } catch (StorageException e) {
                try {
                    opened.disk().close();
                } catch (StorageException suppressed) {
                    e.addSuppressed(suppressed);
                }
                throw e;
            }
        } catch (StorageException e) {
            fail(slot, e.kind() == Kind.BACKEND_UNAVAILABLE ? DriveState.WAITING : DriveState.FAILED,
                    e.withDrive(config.id()));
            return;
        }
        VirtualDisk disk = opened.disk();
        CachedDisk blockCache = null;
        if (config.cacheSize() > 0) {
            blockCache = new CachedDisk(disk, config.cache(), config.cacheSize(), config.cacheBlockSize());
            disk = blockCache;
        }
        DriveHandle handle = new DriveHandle(config.id(), disk, config.cache(), media, () -> slot.snapshot,
                () -> post(() -> resized(slot)), blockCache == null ? null : blockCache::stats,
                opened.layers().stream().map(DiskOpener.Layer::transfers).filter(java.util.Objects::nonNull).toList());
        slot.handle = handle;
        slot.layers = opened.layers();
        try {
            slot.registration = context.registerService(
                    new String[] {Drive.class.getName(), VirtualDisk.class.getName()}, handle,
                    serviceProperties(slot, handle));
        } catch (RuntimeException e) {
            takeDown(slot);
            fail(slot, DriveState.FAILED, new StorageException(Kind.IO, "cannot register the drive service: " + e, e)
                    .withDrive(config.id()));
            return;
        }
        // ATTACHED only once the service is there: whoever sees the state can look the drive up
        slot.pinnedFormat = null;
        slot.state = DriveState.ATTACHED;
        slot.failure = null;
        publish(slot);
        LOG.log(Level.INFO, "drive {0} attached: {1} as {2}{3}", config.id(),
                DiskOpener.reference(config.backend()), opened.format().name(),
                opened.probeScore() >= 0 ? " (probed)" : "");
    }

    /**
     * The media type the drive presents: as configured, else what the image is. A CD has 2048-byte
     * sectors and a size that is a whole number of them; a disk cannot have 2048-byte sectors.
     */
    private static MediaType mediaOf(DriveConfig config, VirtualDisk disk) throws StorageException {
        MediaType media = config.media() != null ? config.media()
                : config.sectorSize() == MediaType.CD_SECTOR_SIZE ? MediaType.CDROM : disk.mediaType();
        int sectorSize = disk.logicalSectorSize();
        if (media == MediaType.CDROM) {
            if (sectorSize != MediaType.CD_SECTOR_SIZE || disk.capacity() % MediaType.CD_SECTOR_SIZE != 0) {
                throw new StorageException(Kind.INVALID_CONFIG, "the image is " + disk.capacity() + " bytes in "
                        + sectorSize + "-byte sectors, not a whole number of 2048-byte CD sectors")
                        .withOperation(Operation.OPEN).withDrive(config.id());
            }
        } else if (sectorSize == MediaType.CD_SECTOR_SIZE) {
            throw new StorageException(Kind.INVALID_CONFIG, "the " + disk.formatName()
                    + " image has 2048-byte sectors: it can only be a cdrom (set media=cdrom or leave media unset)")
                    .withOperation(Operation.OPEN).withDrive(config.id());
        }
        return media;
    }

    /** After a resize: the capacity in the service properties and the DTO follow the disk. */
    private void resized(Slot slot) {
        if (slot.registration != null && slot.handle != null) {
            try {
                slot.registration.setProperties(serviceProperties(slot, slot.handle));
            } catch (IllegalStateException alreadyGone) {
                // unregistered meanwhile
            }
            publish(slot);
        }
    }

    private Dictionary<String, Object> serviceProperties(Slot slot, DriveHandle handle) {
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(Drive.ID, slot.config.id());
        props.put(Drive.BACKEND, DiskOpener.reference(slot.config.backend()));
        props.put(Drive.FORMAT, handle.formatName());
        props.put(Drive.READ_ONLY, handle.isReadOnly());
        props.put(Drive.CAPACITY, handle.capacity());
        props.put(Drive.SECTOR_SIZE, handle.logicalSectorSize());
        props.put(Drive.CAPABILITIES, handle.capabilityNames());
        props.put(Drive.MEDIA, handle.mediaType().configName());
        props.put(Constants.SERVICE_DESCRIPTION, "Spindle drive " + slot.config.id());
        return props;
    }

    /** Unregisters and closes the slot's drive, if it has one. Leaves the state to the caller. */
    private void takeDown(Slot slot) {
        if (slot.registration != null) {
            try {
                slot.registration.unregister();
            } catch (IllegalStateException alreadyGone) {
                // the framework unregistered it while stopping our bundle
            }
            slot.registration = null;
        }
        if (slot.handle != null) {
            try {
                slot.handle.close();
            } catch (StorageException e) {
                LOG.log(Level.WARNING, "drive " + slot.handle.id() + " did not close cleanly: " + e.getMessage(), e);
            }
            slot.handle = null;
        }
        slot.layers = List.of();
    }

    private void fail(Slot slot, DriveState state, StorageException failure) {
        slot.state = state;
        slot.failure = failure;
        publish(slot);
        LOG.log(state == DriveState.WAITING ? Level.INFO : Level.WARNING, "drive {0} {1}: {2}",
                slot.snapshot.id, state.name().toLowerCase(java.util.Locale.ROOT), failure.getMessage());
    }

    private void publish(Slot slot) {
        DriveDTO dto = new DriveDTO();
        DriveConfig config = slot.config;
        dto.configuration = slot.pid;
        dto.state = slot.state;
        if (config != null) {
            dto.id = config.id();
            // a signed URL's query or a token is never shown
            dto.backend = DiskOpener.reference(config.backend());
            dto.requestedFormat = config.format();
            dto.readOnly = config.readOnly();
            dto.cache = config.cache().configName();
            dto.media = config.media() == null ? null : config.media().configName();
        } else {
            int tilde = slot.pid.indexOf('~');
            dto.id = tilde >= 0 ? slot.pid.substring(tilde + 1) : slot.pid;
        }
        DriveHandle handle = slot.handle;
        if (handle != null && slot.state == DriveState.ATTACHED) {
            dto.format = handle.formatName();
            dto.readOnly = handle.isReadOnly();
            dto.capacity = handle.capacity();
            dto.sectorSize = handle.logicalSectorSize();
            dto.capabilities = handle.capabilityNames();
            dto.media = handle.mediaType().configName();
            dto.chain = slot.layers.stream().skip(1).map(layer -> DiskOpener.reference(layer.location())).toArray(String[]::new);
        }
        if (slot.failure != null) {
            dto.failureKind = slot.failure.kind().name();
            dto.failure = slot.failure.getMessage();
        }
        slot.snapshot = dto;
    }

    // ---- plumbing

    private void post(Runnable task) {
        try {
            events.execute(() -> {
                try {
                    task.run();
                } catch (RuntimeException e) {
                    LOG.log(Level.ERROR, "drive manager event failed", e);
                }
            });
        } catch (RejectedExecutionException e) {
            // deactivated: nothing is managed any more
        }
    }

    /** Runs {@code task} on the event thread and waits for it (inline if already there). */
    private <T> T call(Callable<T> task) {
        try {
            if (Thread.currentThread() == eventThread) {
                return task.call();
            }
            return events.submit(task).get(60, TimeUnit.SECONDS);
        } catch (RejectedExecutionException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        } catch (Exception e) {
            LOG.log(Level.ERROR, "drive manager event failed", e);
            return null;
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String escape(String value) {
        return value.replace("\\", "\\\\").replace("*", "\\*").replace("(", "\\(").replace(")", "\\)");
    }
}
