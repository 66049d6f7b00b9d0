package org.spindle.backend.http;

import java.io.IOException;
import java.io.Serial;
import java.time.Duration;

import org.spindle.storage.api.StorageException.Kind;

/** Why one HTTP exchange gave no data, and what the client should do next. */
final class FetchFailure extends IOException {
    @Serial
    private static final long serialVersionUID = 1L;

    enum Action {
        /** A transient failure (5xx, 408, 429, a reset or stalled connection): try again after a pause. */
        RETRY,
        /** 401 or 403: renew the credentials and try once more. */
        REAUTHORIZE,
        /** The image changed on the server: every later read must fail, nothing may be mixed. */
        CHANGED,
        /** A 3xx: follow {@link #location()}. */
        REDIRECT,
        /** Anything else: fail with {@link #kind()}. */
        FAIL
    }

    private final transient Action action;
    private final Kind kind;
    private final transient Duration retryAfter;
    /** A redirect's target, or refused credentials: never serialized. */
    private final transient String location;

    private FetchFailure(Action action, Kind kind, String message, Duration retryAfter, Throwable cause) {
        this(action, kind, message, retryAfter, cause, null);
    }

    private FetchFailure(Action action, Kind kind, String message, Duration retryAfter, Throwable cause,
            String location) {
        super(message, cause);
        this.action = action;
        this.kind = kind;
        this.retryAfter = retryAfter;
        this.location = location;
    }

    static FetchFailure redirect(int status, String location) {
        return new FetchFailure(Action.REDIRECT, Kind.IO, "a redirect (" + status + ")", null, null, location);
    }

    /** A redirect's target as sent (for a refusal, the refused credentials), or {@code null}. */
    String location() {
        return location;
    }

    static FetchFailure retry(String message, Duration retryAfter, Throwable cause) {
        return new FetchFailure(Action.RETRY, Kind.IO, message, retryAfter, cause);
    }

    static FetchFailure reauthorize(String message) {
        return new FetchFailure(Action.REAUTHORIZE, Kind.ACCESS_DENIED, message, null, null);
    }

    /** This refusal, knowing the credentials the refused request presented (or none). */
    FetchFailure refused(String authorization) {
        return new FetchFailure(action, kind, getMessage(), retryAfter, getCause(), authorization);
    }

    /**
     * For {@link Action#REAUTHORIZE}: the credentials that were refused ({@link Credentials#presented}),
     * or {@code null}.
     */
    String refusedAuthorization() {
        return action == Action.REAUTHORIZE ? location : null;
    }

    static FetchFailure changed(String message) {
        return new FetchFailure(Action.CHANGED, Kind.IO, message, null, null);
    }

    /** The server broke the Range contract: its bytes cannot be trusted at any offset. */
    static FetchFailure protocol(String message) {
        return new FetchFailure(Action.FAIL, Kind.IO, "protocol error: " + message, null, null);
    }

    static FetchFailure fail(Kind kind, String message) {
        return new FetchFailure(Action.FAIL, kind, message, null, null);
    }

    Action action() {
        return action;
    }

    Kind kind() {
        return kind;
    }

    /** The server's {@code Retry-After}, or {@code null}. */
    Duration retryAfter() {
        return retryAfter;
    }
}
