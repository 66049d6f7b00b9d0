package org.spindle.format.qcow2;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdInputStream;

/**
 * Compressed clusters: raw deflate streams (no zlib header, as qcow2 stores them) or zstd frames. A
 * compressed cluster is read from whole 512-byte sectors, so the input may go on past the end of the
 * stream; decompression stops once it has produced one cluster.
 */
final class Compression {
    private Compression() {
    }

    static byte[] decompress(int type, byte[] input, int length, int clusterSize) throws StorageException {
        byte[] out = new byte[clusterSize];
        int produced;
        if (type == Qcow2Header.COMPRESSION_ZSTD) {
            produced = unzstd(input, length, out);
        } else {
            produced = inflate(input, length, out);
        }
        if (produced != clusterSize) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "a compressed cluster decompresses to " + produced
                    + " bytes instead of " + clusterSize);
        }
        return out;
    }

    private static int inflate(byte[] input, int length, byte[] out) throws StorageException {
        Inflater inflater = new Inflater(true);
        try {
            inflater.setInput(input, 0, length);
            int produced = 0;
            while (produced < out.length) {
                int n = inflater.inflate(out, produced, out.length - produced);
                produced += n;
                if (n == 0 && (inflater.finished() || inflater.needsInput() || inflater.needsDictionary())) {
                    break;
                }
            }
            return produced;
        } catch (DataFormatException e) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "a compressed cluster is not a valid deflate stream: "
                    + e.getMessage(), e);
        } finally {
            inflater.end();
        }
    }

    private static int unzstd(byte[] input, int length, byte[] out) throws StorageException {
        try (InputStream in = new ZstdInputStream(new ByteArrayInputStream(input, 0, length))) {
            int produced = 0;
            while (produced < out.length) {
                int n = in.read(out, produced, out.length - produced);
                if (n < 0) {
                    break;
                }
                produced += n;
            }
            return produced;
        } catch (IOException | RuntimeException e) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "a compressed cluster is not a valid zstd stream: "
                    + e.getMessage(), e);
        }
    }

    /**
     * Compresses one cluster; returns null when the result is not smaller than the cluster (then it is
     * stored as it is).
     */
    static byte[] compress(int type, byte[] cluster) {
        byte[] result;
        if (type == Qcow2Header.COMPRESSION_ZSTD) {
            result = Zstd.compress(cluster, 3);
        } else {
            Deflater deflater = new Deflater(Deflater.DEFAULT_COMPRESSION, true);
            try {
                deflater.setInput(cluster);
                deflater.finish();
                byte[] buf = new byte[cluster.length];
                int n = 0;
                while (!deflater.finished() && n < buf.length) {
                    n += deflater.deflate(buf, n, buf.length - n);
                }
                if (!deflater.finished()) {
                    return null;
                }
                result = java.util.Arrays.copyOf(buf, n);
            } finally {
                deflater.end();
            }
        }
        return result.length >= cluster.length ? null : result;
    }
}
