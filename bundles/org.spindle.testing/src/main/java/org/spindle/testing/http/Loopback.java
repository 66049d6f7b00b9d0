package org.spindle.testing.http;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/** A listening socket on loopback that hands each connection to {@code handler} on its own virtual thread. */
final class Loopback implements AutoCloseable {
    private final ServerSocket server;
    private final CopyOnWriteArrayList<Socket> open = new CopyOnWriteArrayList<>();
    private final Consumer<Socket> handler;

    Loopback(String name, Consumer<Socket> handler) throws IOException {
        this.handler = handler;
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().name(name).start(this::accept);
    }

    int port() {
        return server.getLocalPort();
    }

    URI uri(String path) {
        return URI.create("http://127.0.0.1:" + port() + path);
    }

    private void accept() {
        while (!server.isClosed()) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                return;
            }
            open.add(s);
            Thread.ofVirtual().start(() -> {
                try {
                    handler.accept(s);
                } finally {
                    open.remove(s);
                }
            });
        }
    }

    /** Stops listening and drops every connection. */
    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : open) {
            s.close();
        }
    }
}
