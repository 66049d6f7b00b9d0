package org.spindle.backend.http;

import java.net.http.HttpResponse.BodySubscriber;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.function.LongConsumer;

/**
 * Collects a response body of exactly {@code length} bytes into one array. A body that runs longer is
 * cut off and refused at once (the connection is dropped rather than read on); a shorter one, which is
 * what a connection reset mid-body leaves, is refused at its end. Either way no array is produced.
 */
final class ExactBody implements BodySubscriber<byte[]> {
    private final byte[] data;
    private final LongConsumer received;
    private final CompletableFuture<byte[]> result = new CompletableFuture<>();
    private Flow.Subscription subscription;
    private int filled;

    /**
     * @param received told of every body byte that arrives, used or not (for the traffic counters)
     */
    ExactBody(int length, LongConsumer received) {
        this.data = new byte[length];
        this.received = received;
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
            if (n > data.length - filled) {
                subscription.cancel();
                result.completeExceptionally(FetchFailure.protocol(
                        "the body is longer than the " + data.length + " bytes the response announced"));
                return;
            }
            item.get(data, filled, n);
            filled += n;
        }
    }

    @Override
    public void onError(Throwable t) {
        result.completeExceptionally(t);
    }

    @Override
    public void onComplete() {
        if (filled != data.length) {
            result.completeExceptionally(FetchFailure.retry("the body ended after " + filled + " of "
                    + data.length + " bytes", null, null));
        } else {
            result.complete(data);
        }
    }

    @Override
    public CompletionStage<byte[]> getBody() {
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
