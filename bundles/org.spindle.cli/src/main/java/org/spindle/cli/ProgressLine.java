package org.spindle.cli;

import java.io.PrintWriter;
import java.util.Locale;

import org.spindle.storage.core.Progress;

/**
 * The progress line of {@code -p}: a bar and the percentage, redrawn in place with a carriage return
 * whenever a tenth of a percent more is done, and ended with a newline.
 */
final class ProgressLine implements Progress {
    private static final int WIDTH = 40;
    private final PrintWriter out;
    private int shown = -1;

    ProgressLine(PrintWriter out) {
        this.out = out;
    }

    @Override
    public void update(long done, long total) {
        int permille = total <= 0 ? 1000 : (int) Math.min(1000, done * 1000 / total);
        if (permille == shown) {
            return;
        }
        shown = permille;
        int filled = permille * WIDTH / 1000;
        out.print("\r    [" + "#".repeat(filled) + " ".repeat(WIDTH - filled) + "] "
                + String.format(Locale.ROOT, "%5.1f%%", permille / 10.0));
        out.flush();
    }

    /** Ends the line, if one was drawn. */
    void finish() {
        if (shown >= 0) {
            out.println();
        }
    }
}
