package org.spindle.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;

import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The servlet gives a transfer's slot back whatever happens to the response, a failed write included. */
class ImageServerComponentTest {
    @TempDir
    Path dir;

    /** A request for {@code path}, answering only what the servlet asks. */
    private static HttpServletRequest request(String path) {
        return (HttpServletRequest) Proxy.newProxyInstance(ImageServerComponentTest.class.getClassLoader(),
                new Class<?>[] {HttpServletRequest.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "getMethod" -> "GET";
                    case "getHeaderNames", "getHeaders" -> Collections.emptyEnumeration();
                    case "getServletPath" -> path;
                    case "getPathInfo", "getQueryString", "getHeader" -> null;
                    case "getRequestURL" -> new StringBuffer("http://127.0.0.1:8080" + path);
                    case "getRequestURI" -> path;
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    /** A response whose body goes to {@code body}, or whose writes fail when {@code body} is null. */
    private static HttpServletResponse response(int[] status, ByteArrayOutputStream body) {
        ServletOutputStream out = new ServletOutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                if (body == null) {
                    throw new IOException("the client went away");
                }
                body.write(b, off, len);
            }

            @Override
            public boolean isReady() {
                return true;
            }

            @Override
            public void setWriteListener(WriteListener listener) {
                throw new UnsupportedOperationException();
            }
        };
        return (HttpServletResponse) Proxy.newProxyInstance(ImageServerComponentTest.class.getClassLoader(),
                new Class<?>[] {HttpServletResponse.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "setStatus" -> {
                        status[0] = (Integer) args[0];
                        yield null;
                    }
                    case "addHeader", "setContentType", "setContentLengthLong" -> null;
                    case "getOutputStream" -> out;
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    @Test
    void aWriteThatFailsGivesItsTransferSlotBack() throws Exception {
        byte[] image = new byte[256 * 1024];
        new Random(2).nextBytes(image);
        Files.write(dir.resolve("disk.img"), image);
        // one transfer at a time: a slot kept by a failed write would make every later request a 429
        ImageServerComponent servlet = new ImageServerComponent(new ServerSettings(dir, true, List.of(), "same-site", 1,
                8 << 20, Map.of(), "", "spindle", 600, 3600, "", true, ""));
        for (int i = 0; i < 3; i++) {
            int[] status = new int[1];
            assertThatThrownBy(() -> servlet.service(request("/v1/images/disk.img"), response(status, null)))
                    .isInstanceOf(IOException.class).hasMessageContaining("went away");
            assertThat(status[0]).isEqualTo(200);
        }
        int[] status = new int[1];
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        servlet.service(request("/v1/images/disk.img"), response(status, body));
        assertThat(status[0]).isEqualTo(200);
        assertThat(body.toByteArray()).isEqualTo(image);
        assertThat(servlet.server().handle(new Request("GET", "/metrics", null, Map.of(), new byte[0],
                "http://127.0.0.1:8080")).text()).contains("spindle_server_in_flight 0")
                .doesNotContain("status=\"429\"");
    }
}
