package org.spindle.backend.http;

import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodySubscriber;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.function.ObjIntConsumer;
import java.util.function.LongConsumer;

/**
 * Collects a response body of exactly the announced length into arrays: one, or several consecutive
 * parts (the chunks of a range that covers more than one), each handed on as soon as it is full. A
 * body that runs longer is cut off and refused at once (the connection is dropped rather than read
 * on); a shorter one, which is what a connection reset mid-body leaves, is refused at its end. Parts
 * filled before a failure hold exactly the bytes of their place (the headers were checked first), so
 * they may be used; no other array is produced.
 */
final class ExactBody implements BodySubscriber<byte[][]> {
    private final byte[][] parts;
    private final long length;
    private final LongConsumer received;
    private final ObjIntConsumer<byte[]> partDone;
    private final CompletableFuture<byte[][]> result = new CompletableFuture<>();
    private Flow.Subscription subscription;
    private int part;
    private int inPart;
    private long filled;

    /**
     * @param lengths the parts' lengths, in order (each above 0)
     * @param received told of every body byte that arrives, used or not (for the traffic counters)
     * @param partDone told each part (and its index) the moment it is full
     */
    ExactBody(int[] lengths, LongConsumer received, ObjIntConsumer<byte[]> partDone) {
        this.parts = new byte[lengths.length][];
        long total = 0;
        for (int i = 0; i < lengths.length; i++) {
            parts[i] = new byte[lengths[i]];
            total += lengths[i];
        }
        this.length = total;
        this.received = received;
        this.partDone = partDone;
    }

    /** A body of exactly {@code length} bytes, as one array. */
    static BodySubscriber<byte[]> single(int length, LongConsumer received) {
        return HttpResponse.BodySubscribers.mapping(new ExactBody(new int[] {length}, received, (p, i) -> { }),
                parts -> parts[0]);
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
        subscription = s;
        s.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(List<ByteBuffer> items) {
        if (result.isDone()) {
            return;
        }
        for (ByteBuffer item : items) {
            int n = item.remaining();
            received.accept(n);
            if (n > length - filled) {
                subscription.cancel();
                result.completeExceptionally(FetchFailure.protocol(
                        "the body is longer than the " + length + " bytes the response announced"));
                return;
            }
            while (item.hasRemaining()) {
                byte[] target = parts[part];
                int k = Math.min(item.remaining(), target.length - inPart);
                item.get(target, inPart, k);
                inPart += k;
                filled += k;
                if (inPart == target.length) {
                    partDone.accept(target, part);
                    part++;
                    inPart = 0;
                }
            }
        }
    }

    @Override
    public void onError(Throwable t) {
        result.completeExceptionally(t);
    }

    @Override
    public void onComplete() {
        if (filled != length) {
            result.completeExceptionally(FetchFailure.retry("the body ended after " + filled + " of "
                    + length + " bytes", null, null));
        } else {
            result.complete(parts);
        }
    }

    @Override
    public CompletionStage<byte[][]> getBody() {
        return result;
    }

    /** A subscriber that takes nothing: it drops the body (and with it the connection) and fails. */
    static <T> BodySubscriber<T> refusing(FetchFailure failure) {
        return new BodySubscriber<>() {
            private final CompletableFuture<T> body = CompletableFuture.failedFuture(failure);

            @Override
            public void onSubscribe(Flow.Subscription s) {
                s.cancel();
            }

            @Override
            public void onNext(List<ByteBuffer> item) {
                // cancelled: nothing more is read
            }

            @Override
            public void onError(Throwable t) {
                // the failure is already decided
            }

            @Override
            public void onComplete() {
                // the failure is already decided
            }

            @Override
            public CompletionStage<T> getBody() {
                return body;
            }
        };
    }
}
