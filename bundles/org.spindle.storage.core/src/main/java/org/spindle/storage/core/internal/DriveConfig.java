package org.spindle.storage.core.internal;

import java.net.URI;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.Locale;
import java.util.regex.Pattern;

import org.spindle.storage.api.CacheMode;
import org.spindle.storage.api.Drive;
import org.spindle.storage.api.DriveSpecDTO;
import org.spindle.storage.api.MediaType;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.core.BackendUris;
import org.spindle.storage.core.DiskOpener;

/**
 * One validated {@code org.spindle.drive} configuration. Parsing is strict and names the field that is
 * wrong; values may be typed ({@code Boolean}, {@code Integer}) or strings, as {@code .cfg} files give.
 */
record DriveConfig(String pid, String id, URI backend, String format, boolean readOnly, CacheMode cache,
        int sectorSize, MediaType media, URI overlay, long cacheSize, int cacheBlockSize) {

    static final String ID = "id";
    static final String BACKEND = "backend";
    static final String FORMAT = "format";
    static final String READ_ONLY = "readOnly";
    static final String CACHE = "cache";
    static final String SECTOR_SIZE = "sectorSize";
    static final String MEDIA = "media";
    static final String OVERLAY = "overlay";
    static final String CACHE_SIZE = "cacheSize";
    static final String CACHE_BLOCK_SIZE = "cacheBlockSize";
    static final int DEFAULT_CACHE_BLOCK_SIZE = 64 * 1024;

    private static final Pattern ID_PATTERN = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final Pattern FORMAT_PATTERN = Pattern.compile("[a-z0-9][a-z0-9._-]{0,31}");

    /** Parses a configuration; a missing id defaults to the factory configuration's name ({@code ~NAME}). */
    static DriveConfig parse(String pid, Dictionary<String, ?> props) throws StorageException {
        String id = string(props, ID, null);
        if (id == null) {
            int tilde = pid.indexOf('~');
            id = tilde >= 0 ? pid.substring(tilde + 1) : null;
        }
        if (id == null) {
            throw invalid(pid, ID, "is missing");
        }
        if (!ID_PATTERN.matcher(id).matches()) {
            throw invalid(pid, ID, "'" + id + "' is not a drive id (1 to 64 letters, digits, '.', '_' or '-')");
        }
        String backendText = string(props, BACKEND, null);
        if (backendText == null) {
            throw invalid(pid, BACKEND, "is missing (a URI such as file:/images/disk.img, or a path)");
        }
        URI backend;
        try {
            backend = BackendUris.parse(backendText);
        } catch (StorageException e) {
            throw invalid(pid, BACKEND, e.detail());
        }
        String format = string(props, FORMAT, DiskOpener.AUTO).toLowerCase(Locale.ROOT);
        if (!FORMAT_PATTERN.matcher(format).matches()) {
            throw invalid(pid, FORMAT, "'" + format + "' is not a format name");
        }
        boolean readOnly = bool(pid, props, READ_ONLY);
        CacheMode cache;
        try {
            cache = CacheMode.parse(string(props, CACHE, CacheMode.WRITEBACK.configName()));
        } catch (IllegalArgumentException e) {
            throw invalid(pid, CACHE, e.getMessage());
        }
        int sectorSize = integer(pid, props, SECTOR_SIZE);
        if (sectorSize != 0 && sectorSize != 512 && sectorSize != 4096 && sectorSize != MediaType.CD_SECTOR_SIZE) {
            throw invalid(pid, SECTOR_SIZE, sectorSize + " is not 512, 2048 (cdrom), 4096 or 0 (the format's own)");
        }
        MediaType media = null;
        String mediaText = string(props, MEDIA, null);
        if (mediaText != null) {
            try {
                media = MediaType.parse(mediaText);
            } catch (IllegalArgumentException e) {
                throw invalid(pid, MEDIA, e.getMessage());
            }
        }
        if (media == MediaType.CDROM && sectorSize != 0 && sectorSize != MediaType.CD_SECTOR_SIZE) {
            throw invalid(pid, SECTOR_SIZE, sectorSize + " does not fit a cdrom, whose sectors are 2048 bytes");
        }
        if (media == MediaType.DISK && sectorSize == MediaType.CD_SECTOR_SIZE) {
            throw invalid(pid, SECTOR_SIZE, "2048-byte sectors are for cdrom media only");
        }
        URI overlay = null;
        String overlayText = string(props, OVERLAY, null);
        if (overlayText != null) {
            try {
                overlay = BackendUris.parse(overlayText);
            } catch (StorageException e) {
                throw invalid(pid, OVERLAY, e.detail());
            }
            if (overlay.equals(backend)) {
                throw invalid(pid, OVERLAY, "is the backend itself; an overlay must be another image");
            }
            if (readOnly) {
                throw invalid(pid, OVERLAY, "makes no sense on a read-only drive: the overlay takes the writes");
            }
        }
        long cacheSize = size(pid, props, CACHE_SIZE, 0);
        long cacheBlockSize = size(pid, props, CACHE_BLOCK_SIZE, DEFAULT_CACHE_BLOCK_SIZE);
        if (cacheBlockSize < 512 || cacheBlockSize > (16 << 20) || Long.bitCount(cacheBlockSize) != 1) {
            throw invalid(pid, CACHE_BLOCK_SIZE, cacheBlockSize + " is not a power of two from 512 bytes to 16M");
        }
        if (cacheSize != 0 && cacheSize < cacheBlockSize) {
            throw invalid(pid, CACHE_SIZE, cacheSize + " bytes is less than one cache block of " + cacheBlockSize
                    + " (0 turns the block cache off)");
        }
        return new DriveConfig(pid, id, backend, format, readOnly, cache, sectorSize, media, overlay, cacheSize,
                (int) cacheBlockSize);
    }

    /** Validates an operator's spec and returns the configuration properties it becomes. */
    static Dictionary<String, Object> properties(DriveSpecDTO spec) throws StorageException {
        Hashtable<String, Object> props = new Hashtable<>();
        put(props, ID, spec.id);
        put(props, BACKEND, spec.backend);
        put(props, FORMAT, spec.format == null ? DiskOpener.AUTO : spec.format);
        props.put(READ_ONLY, spec.readOnly);
        put(props, CACHE, spec.cache == null ? CacheMode.WRITEBACK.configName() : spec.cache);
        props.put(SECTOR_SIZE, spec.sectorSize);
        put(props, MEDIA, spec.media);
        put(props, OVERLAY, spec.overlay);
        put(props, CACHE_SIZE, spec.cacheSize);
        String pid = Drive.FACTORY_PID + "~" + spec.id;
        if (spec.id == null) {
            throw invalid(pid, ID, "is missing");
        }
        parse(pid, props);
        return props;
    }

    private static void put(Hashtable<String, Object> props, String key, String value) {
        if (value != null) {
            props.put(key, value);
        }
    }

    private static String string(Dictionary<String, ?> props, String key, String fallback) {
        Object value = props.get(key);
        if (value == null) {
            return fallback;
        }
        String s = value.toString().strip();
        return s.isEmpty() ? fallback : s;
    }

    private static boolean bool(String pid, Dictionary<String, ?> props, String key) throws StorageException {
        Object value = props.get(key);
        if (value == null || value instanceof Boolean) {
            return Boolean.TRUE.equals(value);
        }
        String s = value.toString().strip().toLowerCase(Locale.ROOT);
        return switch (s) {
            case "true", "yes", "on" -> true;
            case "false", "no", "off", "" -> false;
            default -> throw invalid(pid, key, "'" + value + "' is not true or false");
        };
    }

    private static int integer(String pid, Dictionary<String, ?> props, String key) throws StorageException {
        Object value = props.get(key);
        if (value == null) {
            return 0;
        }
        if (value instanceof Number n) {
            return n.intValue() == n.longValue() ? n.intValue() : -1;
        }
        try {
            String s = value.toString().strip();
            return s.isEmpty() ? 0 : Integer.parseInt(s);
        } catch (NumberFormatException e) {
            throw invalid(pid, key, "'" + value + "' is not a number");
        }
    }

    /** A byte count: a number, or a string such as {@code 64M}. */
    private static long size(String pid, Dictionary<String, ?> props, String key, long fallback) throws StorageException {
        Object value = props.get(key);
        if (value instanceof Number n) {
            if (n.longValue() < 0) {
                throw invalid(pid, key, n + " is negative");
            }
            return n.longValue();
        }
        String text = string(props, key, null);
        if (text == null) {
            return fallback;
        }
        try {
            return org.spindle.storage.api.ByteSize.parse(text);
        } catch (IllegalArgumentException e) {
            throw invalid(pid, key, e.getMessage());
        }
    }

    private static StorageException invalid(String pid, String field, String detail) {
        return new StorageException(Kind.INVALID_CONFIG, "field '" + field + "' " + detail)
                .withOperation(Operation.CONFIGURE).withLocation(pid);
    }
}
