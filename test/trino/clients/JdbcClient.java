// A BI tool's use of the Trino JDBC driver, for the real-Trino tier (run as a single-file source
// program: `java -cp trino-jdbc.jar JdbcClient.java <mode> <jdbc url> [sql]`). Prints one JSON line.
// Modes: query (DriverManager, Statement, ResultSet metadata, every row into a checksum),
// prepared (PreparedStatement with a parameter), session (USE, SET SESSION, SHOW SESSION),
// transaction (autocommit off: three statements in one transaction, commit, then one rolled back),
// cancel (Statement.cancel from another thread while the query runs; prints the query id).
import io.trino.jdbc.TrinoStatement;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicReference;

public class JdbcClient {
    static String json(String text) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            if (c == '"' || c == '\\') out.append('\\').append(c);
            else if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
            else out.append(c);
        }
        return out.append('"').toString();
    }

    static String list(List<String> values) {
        List<String> quoted = new ArrayList<>();
        for (String value : values) quoted.add(json(value));
        return "[" + String.join(",", quoted) + "]";
    }

    static Connection connect(String url, boolean autoCommit) throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("user", "analyst");
        Connection connection = DriverManager.getConnection(url, properties);
        connection.setAutoCommit(autoCommit);
        return connection;
    }

    /** Row count, SHA-256 of the rows as text (tab-separated columns, one line per row), and the columns. */
    static String readAll(ResultSet rows) throws Exception {
        ResultSetMetaData meta = rows.getMetaData();
        List<String> columns = new ArrayList<>();
        for (int i = 1; i <= meta.getColumnCount(); i++) columns.add(meta.getColumnName(i) + ":" + meta.getColumnTypeName(i));
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        long count = 0;
        String first = "";
        while (rows.next()) {
            StringBuilder line = new StringBuilder();
            for (int i = 1; i <= meta.getColumnCount(); i++) {
                if (i > 1) line.append('\t');
                line.append(rows.getString(i));
            }
            if (count == 0) first = line.toString();
            digest.update((line + "\n").getBytes("UTF-8"));
            count++;
        }
        return "\"rows\":" + count + ",\"checksum\":" + json(HexFormat.of().formatHex(digest.digest())) + ",\"columns\":" + list(columns) + ",\"first\":" + json(first);
    }

    /**
     * The one value of a one-row query, read to the end: closing a ResultSet before its last page
     * cancels the query, and in a transaction a cancelled query aborts the transaction.
     */
    static String single(Statement statement, String sql) throws SQLException {
        String value = null;
        try (ResultSet rows = statement.executeQuery(sql)) {
            while (rows.next()) value = rows.getString(1);
        }
        return value;
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        String url = args[1];
        try {
            switch (mode) {
                case "query" -> {
                    try (Connection connection = connect(url, true); Statement statement = connection.createStatement(); ResultSet rows = statement.executeQuery(args[2])) {
                        System.out.println("{\"ok\":true," + readAll(rows) + "}");
                    }
                }
                case "prepared" -> {
                    try (Connection connection = connect(url, true); PreparedStatement statement = connection.prepareStatement("SELECT name FROM tpch.tiny.nation WHERE regionkey = ? ORDER BY name")) {
                        statement.setLong(1, Long.parseLong(args[2]));
                        List<String> names = new ArrayList<>();
                        try (ResultSet rows = statement.executeQuery()) {
                            while (rows.next()) names.add(rows.getString(1));
                        }
                        System.out.println("{\"ok\":true,\"names\":" + list(names) + "}");
                    }
                }
                case "session" -> {
                    try (Connection connection = connect(url, true); Statement statement = connection.createStatement()) {
                        statement.execute("USE tpch.tiny");
                        long nations;
                        try (ResultSet rows = statement.executeQuery("SELECT count(*) FROM nation")) {
                            rows.next();
                            nations = rows.getLong(1);
                        }
                        statement.execute("SET SESSION query_max_run_time = '17m'");
                        String value;
                        try (ResultSet rows = statement.executeQuery("SHOW SESSION LIKE 'query_max_run_time'")) {
                            rows.next();
                            value = rows.getString("Value");
                        }
                        statement.execute("RESET SESSION query_max_run_time");
                        String reset;
                        try (ResultSet rows = statement.executeQuery("SHOW SESSION LIKE 'query_max_run_time'")) {
                            rows.next();
                            reset = rows.getString("Value");
                        }
                        System.out.println("{\"ok\":true,\"catalog\":" + json(connection.getCatalog()) + ",\"schema\":" + json(connection.getSchema()) + ",\"nations\":" + nations + ",\"session\":" + json(value) + ",\"reset\":" + json(reset) + "}");
                    }
                }
                case "transaction" -> {
                    try (Connection connection = connect(url, false); Statement statement = connection.createStatement()) {
                        List<String> seen = new ArrayList<>();
                        // Three statements of one transaction: with the gateway each carries the tagged
                        // transaction id, which must reach the coordinator that started it, untagged.
                        for (String table : List.of("orders", "customer", "orders")) {
                            seen.add(single(statement, "SELECT count(*) FROM tpch.tiny." + table));
                        }
                        connection.commit();
                        seen.add(single(statement, "SELECT count(*) FROM tpch.tiny.region"));
                        connection.rollback();
                        System.out.println("{\"ok\":true,\"results\":" + list(seen) + "}");
                    }
                }
                case "cancel" -> {
                    try (Connection connection = connect(url, true); Statement statement = connection.createStatement()) {
                        AtomicReference<String> queryId = new AtomicReference<>();
                        statement.unwrap(TrinoStatement.class).setProgressMonitor((stats) -> queryId.compareAndSet(null, stats.getQueryId()));
                        Thread canceller = new Thread(() -> {
                            try {
                                while (queryId.get() == null) Thread.sleep(50);
                                Thread.sleep(Long.parseLong(args.length > 3 ? args[3] : "1500"));
                                statement.cancel();
                            } catch (Exception error) {
                                throw new RuntimeException(error);
                            }
                        });
                        canceller.start();
                        String message = "";
                        try (ResultSet rows = statement.executeQuery(args[2])) {
                            while (rows.next()) { /* drain */ }
                        } catch (SQLException error) {
                            message = error.getMessage();
                        }
                        canceller.join();
                        System.out.println("{\"ok\":true,\"queryId\":" + json(String.valueOf(queryId.get())) + ",\"message\":" + json(message) + "}");
                    }
                }
                default -> throw new IllegalArgumentException("unknown mode " + mode);
            }
        } catch (SQLException error) {
            System.out.println("{\"ok\":false,\"message\":" + json(String.valueOf(error.getMessage())) + ",\"sqlState\":" + json(String.valueOf(error.getSQLState())) + "}");
        }
    }
}
