package org.spindle.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.osgi.service.servlet.whiteboard.annotations.RequireHttpWhiteboard;
import org.osgi.service.servlet.whiteboard.propertytypes.HttpWhiteboardServletPattern;

/**
 * The image server on the OSGi Servlet Whiteboard: one servlet for {@code /v1/*}, {@code /healthz},
 * {@code /readyz} and {@code /metrics}, handing each request to {@link ImageServer}. Active only when
 * configured ({@value #PID}, at least {@code dir}); a changed configuration restarts it. The HTTP port
 * and address are the HTTP service's ({@code org.osgi.service.http.port}, {@code …host}).
 */
@Component(service = jakarta.servlet.Servlet.class, configurationPid = ImageServerComponent.PID,
        configurationPolicy = ConfigurationPolicy.REQUIRE)
@HttpWhiteboardServletPattern({"/v1/*", "/healthz", "/readyz", "/metrics"})
@RequireHttpWhiteboard
@Designate(ocd = ImageServerComponent.Config.class)
public final class ImageServerComponent extends HttpServlet {
    public static final String PID = "org.spindle.server";
    private static final long serialVersionUID = 1L;
    private static final int MAX_BODY = 64 * 1024;
    private static final int COPY_BUFFER = 256 * 1024;

    @ObjectClassDefinition(name = "Spindle image server",
            description = "Serves a directory of disk images over HTTP: ranges, chunked images, read leases")
    public @interface Config {
        @AttributeDefinition(description = "The directory of images (files, images.json, chunked/<id>/)")
        String dir();

        @AttributeDefinition(description = "Whether images not listed otherwise in images.json may be read"
                + " without a lease")
        boolean public_default() default true;

        @AttributeDefinition(description = "Origins allowed to read cross-origin: * or full origins"
                + " (https://app.example); empty for none")
        String[] cors_origins() default {};

        @AttributeDefinition(description = "Cross-Origin-Resource-Policy: same-origin, same-site or cross-origin")
        String corp() default "same-site";

        @AttributeDefinition(description = "Image transfers served at once; more are answered 429")
        int max_concurrent() default 64;

        @AttributeDefinition(description = "Longest range served in one response (bytes, or with K/M/G); longer is 413")
        String max_range() default "8M";

        @AttributeDefinition(description = "Lease signing keys as kid=base64 (32 bytes or more each); empty: no leases")
        String[] lease_keys() default {};

        @AttributeDefinition(description = "The key id new leases are signed with")
        String lease_kid() default "";

        @AttributeDefinition(description = "The audience leases are issued for and checked against")
        String lease_audience() default "spindle";

        @AttributeDefinition(description = "Seconds a lease lasts unless asked otherwise")
        long lease_ttl() default 600;

        @AttributeDefinition(description = "The longest lease that may be asked for, in seconds")
        long lease_max_ttl() default 3600;

        @AttributeDefinition(description = "Environment variable holding the bearer token that may POST /v1/leases")
        String lease_issuer_token_env() default "SPINDLE_LEASE_ISSUER_TOKEN";

        @AttributeDefinition(description = "Whether /metrics answers")
        boolean metrics() default true;

        @AttributeDefinition(description = "Environment variable holding a bearer token /metrics requires (unset: none)")
        String metrics_token_env() default "SPINDLE_METRICS_TOKEN";
    }

    private final transient ImageServer server;

    @Activate
    public ImageServerComponent(Config config) {
        this(settings(config, System::getenv));
    }

    ImageServerComponent(ServerSettings settings) {
        this.server = new ImageServer(settings, Clock.systemUTC());
    }

    static ServerSettings settings(Config c, java.util.function.UnaryOperator<String> env) {
        String issuer = c.lease_issuer_token_env().isBlank() ? null : env.apply(c.lease_issuer_token_env());
        String metricsToken = c.metrics_token_env().isBlank() ? null : env.apply(c.metrics_token_env());
        return new ServerSettings(Path.of(c.dir()), c.public_default(), List.of(c.cors_origins()), c.corp(), c.max_concurrent(),
                size(c.max_range()), ServerSettings.keys(c.lease_keys()), c.lease_kid(), c.lease_audience(), c.lease_ttl(),
                c.lease_max_ttl(), issuer == null ? "" : issuer, c.metrics(), metricsToken == null ? "" : metricsToken);
    }

    private static long size(String text) {
        try {
            return org.spindle.storage.api.ByteSize.parse(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("max.range: " + e.getMessage(), e);
        }
    }

    ImageServer server() {
        return server;
    }

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        byte[] body = new byte[0];
        if ("POST".equals(req.getMethod())) {
            try (InputStream in = req.getInputStream()) {
                body = in.readNBytes(MAX_BODY + 1);
            }
            if (body.length > MAX_BODY) {
                write(req, resp, ImageServer.error(413, "the request body is larger than " + MAX_BODY + " bytes"));
                return;
            }
        }
        Map<String, List<String>> headers = new LinkedHashMap<>();
        for (String name : Collections.list(req.getHeaderNames())) {
            headers.put(name, new ArrayList<>(Collections.list(req.getHeaders(name))));
        }
        String path = req.getServletPath() + (req.getPathInfo() == null ? "" : req.getPathInfo());
        String url = req.getRequestURL().toString();
        String base = url.substring(0, url.length() - req.getRequestURI().length());
        Reply reply = server.handle(new Request(req.getMethod(), path, req.getQueryString(), headers, body, base));
        try {
            write(req, resp, reply);
        } finally {
            reply.finish();
        }
    }

    private static void write(HttpServletRequest req, HttpServletResponse resp, Reply reply) throws IOException {
        resp.setStatus(reply.status());
        long length = -1;
        for (Map.Entry<String, List<String>> h : reply.headers().entrySet()) {
            String name = h.getKey();
            for (String value : h.getValue()) {
                if (name.equalsIgnoreCase("Content-Length")) {
                    length = Long.parseLong(value);
                } else if (name.equalsIgnoreCase("Content-Type")) {
                    resp.setContentType(value);
                } else {
                    resp.addHeader(name, value);
                }
            }
        }
        if (length >= 0) {
            resp.setContentLengthLong(length);
        }
        if ("HEAD".equals(req.getMethod())) {
            return;
        }
        OutputStream out = resp.getOutputStream();
        if (reply.bytes().isPresent()) {
            out.write(reply.bytes().get());
        } else if (reply.region().isPresent()) {
            Reply.FileRegion region = reply.region().get();
            try (FileChannel file = FileChannel.open(region.file(), StandardOpenOption.READ)) {
                if (file.size() != region.fileSize() || !java.nio.file.Files.getLastModifiedTime(region.file())
                        .toInstant().equals(region.modified())) {
                    // replaced since its headers were made: its bytes must not go out under the old ETag
                    throw new IOException(region.file() + " changed while being served");
                }
                ByteBuffer buffer = ByteBuffer.allocate((int) Math.min(COPY_BUFFER, Math.max(1, region.length())));
                long position = region.offset();
                long left = region.length();
                while (left > 0) {
                    buffer.clear().limit((int) Math.min(buffer.capacity(), left));
                    int n = file.read(buffer, position);
                    if (n < 0) {
                        // the file shrank while being sent: cut the response short rather than pad it
                        throw new IOException(region.file() + " ended " + left + " bytes early");
                    }
                    out.write(buffer.array(), 0, n);
                    position += n;
                    left -= n;
                }
            }
        }
    }
}
