package dev.cratewatch.infra;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import inet.ipaddr.IPAddressString;
import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.io.ByteUnit;

/**
 * A local Neo4j Community server for development and tests: the embedded database with the Bolt
 * connector enabled, because Maven Central ships Neo4j as a library, not as the server tarball.
 *
 * <p>Configuration (environment):
 * <ul>
 *   <li>NEO4J_HOME: where data/ and logs/ go (required; infra/local/start passes .data/neo4j)</li>
 *   <li>NEO4J_BOLT_HOST / NEO4J_BOLT_PORT: listen address, default 127.0.0.1:17687</li>
 *   <li>NEO4J_PASSWORD: if set (and non-empty), auth is enabled and user neo4j gets this password;
 *       otherwise auth is disabled (the local default)</li>
 *   <li>NEO4J_PAGECACHE_MB: page cache size, default 128</li>
 *   <li>NEO4J_TX_MEMORY_MB: max memory of all transactions, default 256</li>
 *   <li>NEO4J_TX_TIMEOUT_S: server-side ceiling on every transaction, default 300 (generous on
 *       purpose: the scorer's own write transactions must never hit it; analysts' queries get a
 *       strict per-query timeout from the query sandbox, cli/src/sandbox)</li>
 * </ul>
 *
 * <p>Defence in depth for analysts' Cypher (the query sandbox is the first line): LOAD CSV may not
 * read file:/// URLs, the import directory is a dedicated empty folder, and LOAD CSV may reach no
 * address at all (cratewatch never loads CSV: every IPv4 and IPv6 address is on the blocklist, so
 * an http:// URL cannot be used to reach a loopback or internal service).
 * Stops cleanly on SIGTERM/SIGINT (JVM shutdown hook), so the store is not left needing recovery.
 */
public final class LocalNeo4j {
    private LocalNeo4j() {}

    public static void main(String[] args) throws Exception {
        String homeEnv = env("NEO4J_HOME", null);
        if (homeEnv == null) {
            System.err.println("NEO4J_HOME must be set (the data directory)");
            System.exit(2);
        }
        Path home = Path.of(homeEnv).toAbsolutePath();
        Files.createDirectories(home);
        String host = env("NEO4J_BOLT_HOST", "127.0.0.1");
        int port = Integer.parseInt(env("NEO4J_BOLT_PORT", "17687"));
        String password = env("NEO4J_PASSWORD", "");
        boolean auth = !password.isEmpty();
        long pageCacheMb = Long.parseLong(env("NEO4J_PAGECACHE_MB", "128"));
        long txMemoryMb = Long.parseLong(env("NEO4J_TX_MEMORY_MB", "256"));
        long txTimeoutS = Long.parseLong(env("NEO4J_TX_TIMEOUT_S", "300"));
        Path importDir = home.resolve("import-empty");
        Files.createDirectories(importDir);

        long t0 = System.nanoTime();
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress(host, port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                // Bolt's defaults wait 5 s + 5 s for connections and threads on shutdown; 1 s is plenty locally.
                .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofSeconds(1))
                .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(1))
                .setConfig(GraphDatabaseSettings.auth_enabled, auth)
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(pageCacheMb))
                .setConfig(GraphDatabaseSettings.memory_transaction_global_max_size, ByteUnit.mebiBytes(txMemoryMb))
                .setConfig(GraphDatabaseSettings.transaction_timeout, Duration.ofSeconds(txTimeoutS))
                .setConfig(GraphDatabaseSettings.allow_file_urls, false)
                .setConfig(GraphDatabaseSettings.load_csv_file_url_root, importDir)
                .setConfig(GraphDatabaseInternalSettings.cypher_ip_blocklist,
                        List.of(new IPAddressString("0.0.0.0/0"), new IPAddressString("::/0")))
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("LocalNeo4j: shutting down");
            try {
                dbms.shutdown();
            } catch (Throwable t) {
                t.printStackTrace();
            }
            System.out.println("LocalNeo4j: stopped");
            stopped.countDown();
        }, "local-neo4j-shutdown"));

        if (auth) {
            setPassword(dbms, password);
        }
        // Touch the default database so it is online before we report ready.
        GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
        db.executeTransactionally("RETURN 1");

        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.out.printf("LocalNeo4j: Neo4j %s started in %d ms, bolt://%s:%d (auth %s), home %s%n",
                org.neo4j.kernel.internal.Version.getNeo4jVersion(), ms, host, port,
                auth ? "enabled, user neo4j" : "disabled", home);
        stopped.await();
    }

    /** Sets neo4j's password (auth enabled); a no-op when it already is that password. */
    private static void setPassword(DatabaseManagementService dbms, String password) {
        GraphDatabaseService system = dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
        try {
            system.executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $p CHANGE NOT REQUIRED", Map.of("p", password));
        } catch (RuntimeException e) {
            // "Old password and new password cannot be the same" on a restart: fine.
            String msg = String.valueOf(e.getMessage());
            if (!msg.contains("cannot be the same")) {
                throw e;
            }
        }
    }

    private static String env(String name, String dflt) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? dflt : v;
    }
}
