package org.spindle.benchmarks;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;

/**
 * Runs the benchmarks and prints each path's score as a ratio of the baseline path ({@code filechannel},
 * {@code raw}, {@code cp} or {@code qemu-img}, whichever the benchmark has)
 * measured in the same round.
 *
 * <p>JMH measures one parameter value after the other, so on a small, noisy machine a slow drift
 * favours whichever runs first. So the whole set runs {@code --rounds N} times (default 3), a ratio is
 * taken within each round, and the median ratio is reported with the spread. Other arguments are
 * JMH's own ({@code -f}, {@code -wi}, {@code -i}, a benchmark name pattern, ...).
 *
 * <p>A benchmark in {@code SampleTime} or {@code SingleShotTime} mode is scored by its median invocation, turned into
 * operations per second: one invocation much slower than the rest (a peer that hung and was restarted)
 * does not move it, as it would a mean.
 */
public final class BenchmarkMain {
    /** The path each benchmark is measured against: the first of these it has. */
    private static final List<String> BASELINES = List.of("filechannel", "raw", "cp", "qemu-img", "qemu", "direct");

    private BenchmarkMain() {
    }

    public static void main(String[] args) throws RunnerException, CommandLineOptionException {
        int rounds = 3;
        List<String> jmhArgs = new ArrayList<>(Arrays.asList(args));
        int at = jmhArgs.indexOf("--rounds");
        if (at >= 0) {
            rounds = Integer.parseInt(jmhArgs.get(at + 1));
            jmhArgs.subList(at, at + 2).clear();
        }
        // benchmark -> path -> ratio per round
        Map<String, Map<String, List<Double>>> ratios = new TreeMap<>();
        Map<String, Map<String, List<Double>>> scores = new TreeMap<>();
        for (int round = 1; round <= rounds; round++) {
            System.out.println("# Spindle: round " + round + " of " + rounds);
            Map<String, Map<String, Double>> byBenchmark = new TreeMap<>();
            for (RunResult result : new Runner(new CommandLineOptions(jmhArgs.toArray(String[]::new))).run()) {
                String path = result.getParams().getParam("path");
                if (path != null) {
                    // other parameters (a region size, say) make separate rows
                    StringBuilder name = new StringBuilder(shortName(result.getParams().getBenchmark()));
                    for (String key : result.getParams().getParamsKeys()) {
                        if (!key.equals("path")) {
                            name.append(' ').append(key).append('=').append(result.getParams().getParam(key));
                        }
                    }
                    byBenchmark.computeIfAbsent(name.toString(), k -> new TreeMap<>())
                            .put(path, score(result));
                }
            }
            byBenchmark.forEach((name, byPath) -> {
                String base = baselineOf(byPath.keySet());
                Double baseline = base == null ? null : byPath.get(base);
                byPath.forEach((path, score) -> {
                    scores.computeIfAbsent(name, k -> new TreeMap<>()).computeIfAbsent(path, k -> new ArrayList<>())
                            .add(score);
                    if (baseline != null && !path.equals(base)) {
                        ratios.computeIfAbsent(name, k -> new TreeMap<>())
                                .computeIfAbsent(path, k -> new ArrayList<>()).add(score / baseline);
                    }
                });
                // several peers (QEMU, nbdkit, ...): Spindle is also measured against the best of them
                if (byPath.containsKey("spindle") && byPath.size() > 2) {
                    double best = byPath.entrySet().stream().filter(e -> !e.getKey().equals("spindle"))
                            .mapToDouble(Map.Entry::getValue).max().orElseThrow();
                    ratios.computeIfAbsent(name, k -> new TreeMap<>())
                            .computeIfAbsent("spindle/best", k -> new ArrayList<>()).add(byPath.get("spindle") / best);
                }
            });
        }
        System.out.println();
        System.out.println("Ratios against the baseline (" + String.join(", ", BASELINES)
                + ") measured in the same round (median of " + rounds + " rounds, then each round's ratio):");
        ratios.forEach((name, byPath) -> byPath.forEach((path, list) -> {
            if (path.equals("spindle/best")) {
                System.out.printf(Locale.ROOT, "  %-34s %-14s median %.3f   rounds %s   (against the best other path"
                        + " of each round)%n", name, path, median(list), format(list, "%.3f"));
                return;
            }
            String base = baselineOf(scores.get(name).keySet());
            System.out.printf(Locale.ROOT, "  %-34s %-14s median %.3f   rounds %s   (%s: %s ops/s; %s: %s ops/s)%n",
                    name, path, median(list), format(list, "%.3f"), path, format(scores.get(name).get(path), "%.1f"),
                    base, format(scores.get(name).get(base), "%.1f"));
        }));
    }

    /** Operations per second: the primary score, or for sampled or single-shot times the median's reciprocal. */
    private static double score(RunResult result) {
        org.openjdk.jmh.annotations.Mode mode = result.getParams().getMode();
        if (mode != org.openjdk.jmh.annotations.Mode.SampleTime && mode != org.openjdk.jmh.annotations.Mode.SingleShotTime) {
            return result.getPrimaryResult().getScore();
        }
        double median = result.getPrimaryResult().getStatistics().getPercentile(50);
        double secondsPerUnit = result.getParams().getTimeUnit().toNanos(1) / 1e9;
        return 1 / (median * secondsPerUnit);
    }

    private static String baselineOf(java.util.Collection<String> paths) {
        return BASELINES.stream().filter(paths::contains).findFirst().orElse(null);
    }

    private static String shortName(String benchmark) {
        return benchmark.substring(benchmark.lastIndexOf('.', benchmark.lastIndexOf('.') - 1) + 1);
    }

    private static double median(List<Double> values) {
        double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static String format(List<Double> values, String pattern) {
        return values.stream().map(v -> String.format(Locale.ROOT, pattern, v)).toList().toString();
    }
}
