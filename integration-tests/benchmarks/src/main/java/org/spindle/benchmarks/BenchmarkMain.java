package org.spindle.benchmarks;

import java.util.Collection;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;

/**
 * Runs the benchmarks (JMH command-line options apply) and then prints, for every benchmark measured
 * with a {@code path} parameter, each path's score as a ratio of the baseline path measured in the
 * same run ({@code filechannel}).
 */
public final class BenchmarkMain {
    private static final String BASELINE = "filechannel";

    private BenchmarkMain() {
    }

    public static void main(String[] args) throws RunnerException, CommandLineOptionException {
        Collection<RunResult> results = new Runner(new CommandLineOptions(args)).run();
        Map<String, Map<String, Double>> byBenchmark = new TreeMap<>();
        for (RunResult result : results) {
            String path = result.getParams().getParam("path");
            if (path == null) {
                continue;
            }
            String name = result.getParams().getBenchmark();
            name = name.substring(name.lastIndexOf('.', name.lastIndexOf('.') - 1) + 1);
            byBenchmark.computeIfAbsent(name, k -> new TreeMap<>()).put(path, result.getPrimaryResult().getScore());
        }
        System.out.println();
        System.out.println("Ratios against the baseline measured in the same run (" + BASELINE + " = 1.00):");
        byBenchmark.forEach((name, scores) -> {
            Double baseline = scores.get(BASELINE);
            if (baseline == null) {
                return;
            }
            scores.forEach((path, score) -> {
                if (!path.equals(BASELINE)) {
                    System.out.printf(Locale.ROOT, "  %-40s %-12s %12.0f ops/s  vs %12.0f ops/s  ratio %.3f%n",
                            name, path, score, baseline, score / baseline);
                }
            });
        });
    }
}
