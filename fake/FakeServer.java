///usr/bin/env jbang "$0" "$@" ; exit $?
//DESCRIPTION Faux serveurs Crisp et Weba-AI : pour essayer conv sans compte, et pour ses tests.
//JAVA 17+
//DEPS com.fasterxml.jackson.core:jackson-databind:2.17.2

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.function.IntConsumer;

/**
 * Un faux serveur qui se comporte comme les vraies API : liste triée par activité décroissante qui bouge
 * (nouvelles conversations, conversations relancées, suppressions), pagination, 206, authentification,
 * limite de débit, quota, et fautes injectées (5xx, 429, HTML, connexion coupée, absence de réponse).
 *
 * À la main : {@code ./jbang fake/FakeServer.java crisp 500} (ou {@code weba 300}) affiche les variables
 * à définir pour lancer conv contre lui.
 */
public class FakeServer implements AutoCloseable {
    public static final String IDENTIFIER = "fake-identifier";
    public static final String KEY = "fake-key-4f9c1e";
    public static final String WEBSITE = "8c842203-7ed8-4e29-a608-7cf78a7d2fcc";
    public static final String TOKEN = "fake-token-7d2a90";
    public static final String BOT = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";
    static final ObjectMapper JSON = new ObjectMapper();

    public enum Kind { CRISP, WEBA }

    /** Une faute servie à la place d'une réponse normale. */
    public sealed interface Fault permits Pass, Status, Html, Drop, Hang { }
    /** Une réponse normale (pour placer une faute plus loin dans la file). */
    public record Pass() implements Fault { }
    public record Status(int code, String retryAfter) implements Fault { }
    public record Html() implements Fault { }
    public record Drop() implements Fault { }
    public record Hang(long millis) implements Fault { }

    /** Une conversation du faux compte : son objet complet et sa dernière activité (ms, -1 si aucune). */
    static final class Conversation {
        final ObjectNode node;
        final String id;
        long activity;
        Conversation(ObjectNode node, String id, long activity) { this.node = node; this.id = id; this.activity = activity; }
    }

    public final Kind kind;
    private final HttpServer server;
    private final List<Conversation> list = new ArrayList<>();
    private final Random random = new Random(42);
    private final Deque<Fault> faults = new ArrayDeque<>();
    private final Deque<Long> recent = new ArrayDeque<>();
    private long clock = 1_763_800_000_000L;
    private int serial;
    private Fault always;
    private int rateLimit, quota = -1;
    private long rateWindowMs = 60_000;
    private IntConsumer beforeListPage = page -> { };
    private boolean forbidden;
    private final java.util.Set<String> lostDetails = new java.util.HashSet<>();
    private boolean withoutIdEvery5, withoutActivityEvery7;
    public int requests, listRequests, detailRequests, rateLimited, partialAnswers;
    public final List<String> log = new ArrayList<>();

    public FakeServer(Kind kind, int conversations) throws IOException {
        // Sans cela, le serveur du JDK attend l'accusé de réception retardé du client (40 ms par réponse).
        System.setProperty("sun.net.httpserver.nodelay", "true");
        this.kind = kind;
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(Executors.newFixedThreadPool(4, r -> { Thread t = new Thread(r, "fake"); t.setDaemon(true); return t; }));
        add(conversations, false);
        server.start();
    }

    public static FakeServer crisp(int conversations) throws IOException { return new FakeServer(Kind.CRISP, conversations); }
    public static FakeServer weba(int conversations) throws IOException { return new FakeServer(Kind.WEBA, conversations); }

    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + (kind == Kind.CRISP ? "/v1" : "/api");
    }

    /** Les variables d'environnement qui donnent accès à ce faux compte. */
    public Map<String, String> env() {
        return kind == Kind.CRISP
                ? Map.of("CRISP_IDENTIFIER_PROD", IDENTIFIER, "CRISP_KEY_PROD", KEY, "ID_SITE_CRISP", WEBSITE)
                : Map.of("WEBA_AUTH_TOKEN", TOKEN, "WEBA_BOT_HASH", BOT);
    }

    @Override public void close() { server.stop(0); }

    // ------------------------------------------------------------------ ce que les tests règlent

    /** Désormais, une conversation sur 5 créée n'a pas d'identifiant, une sur 7 pas d'activité. */
    public synchronized FakeServer withGaps() { withoutIdEvery5 = true; withoutActivityEvery7 = true; return this; }

    /** Ajoute des conversations : les plus anciennes à la création, les nouvelles (à activité récente) ensuite. */
    public synchronized void add(int count, boolean recentActivity) {
        for (int i = 0; i < count; i++) {
            serial++;
            long activity = recentActivity ? (clock += 1000) : 1_700_000_000_000L + (long) serial * -60_000 + 10_000_000_000L;
            Conversation c = kind == Kind.CRISP ? crispConversation(activity) : webaConversation(activity);
            list.add(c);
        }
        sort();
    }

    /** Nouvelle activité sur une conversation : elle remonte en tête de liste. */
    public synchronized void touch(String id) {
        for (Conversation c : list) {
            if (!id.equals(c.id)) continue;
            c.activity = clock += 1000;
            if (kind == Kind.CRISP) c.node.putObject("active").put("now", true).put("last", c.activity);
            else c.node.put("last_message_at", Instant.ofEpochMilli(c.activity).toString());
        }
        sort();
    }

    /** Une conversation réaliste de plus, sans l'ajouter à la liste (pour fabriquer de gros fichiers). */
    public synchronized ObjectNode sample(long activity) {
        serial++;
        return (kind == Kind.CRISP ? crispConversation(activity) : webaConversation(activity)).node;
    }

    public synchronized void delete(String id) { list.removeIf(c -> id.equals(c.id)); }

    /** Les identifiants présents, dans l'ordre de la liste (sans ceux qui n'en ont pas). */
    public synchronized List<String> ids() { return list.stream().map(c -> c.id).filter(i -> i != null).toList(); }

    public synchronized int size() { return list.size(); }

    /** Change la suite pseudo-aléatoire (des identifiants différents d'un faux serveur à l'autre). */
    public synchronized FakeServer reseed(long seed) { random.setSeed(seed); return this; }

    public synchronized void inject(Fault... next) { faults.addAll(List.of(next)); }
    public synchronized void always(Fault fault) { always = fault; }
    public synchronized void rateLimit(int max, long windowMs) { rateLimit = max; rateWindowMs = windowMs; }
    /** Quota journalier à la Crisp : au-delà de {@code requests} requêtes, tout est refusé en 429. */
    public synchronized void quota(int requests) { quota = requests; }
    public synchronized void forbidden(boolean value) { forbidden = value; }
    /** Weba-AI : la conversation reste dans la liste mais sa fiche répond 404 CONVERSATION_NOT_FOUND. */
    public synchronized void loseDetail(String id) { lostDetails.add(id); }
    /** Appelé avant de servir chaque page de liste, pour faire bouger la liste entre deux pages. */
    public synchronized void beforeListPage(IntConsumer hook) { beforeListPage = hook; }

    // ------------------------------------------------------------------ données réalistes

    private Conversation crispConversation(long activity) {
        ObjectNode c = JSON.createObjectNode();
        boolean noId = withoutIdEvery5 && serial % 5 == 0;
        boolean noActivity = withoutActivityEvery7 && serial % 7 == 0;
        String id = noId ? null : "session_" + new UUID(random.nextLong(), random.nextLong());
        if (id != null) c.put("session_id", id);
        c.put("website_id", WEBSITE);
        c.put("inbox_id", (String) null);
        c.put("people_id", new UUID(random.nextLong(), random.nextLong()).toString());
        c.put("state", List.of("pending", "unresolved", "resolved").get(random.nextInt(3)));
        c.put("status", random.nextInt(3));
        c.put("is_verified", random.nextBoolean());
        c.put("is_blocked", false);
        c.put("availability", "offline");
        if (!noActivity) c.putObject("active").put("now", false).put("last", activity);
        c.put("last_message", "Bonjour, j'ai une question sur ma commande n°" + serial + " — merci !");
        c.putObject("preview_message").put("type", "text").put("from", "user").put("excerpt", "Bonjour, j'ai une question…")
                .put("fingerprint", random.nextLong() & Long.MAX_VALUE);
        c.put("topic", "");
        c.putArray("verifications");
        c.putArray("participants");
        c.putArray("mentions");
        ObjectNode compose = c.putObject("compose");
        compose.putObject("visitor").put("type", "start").put("excerpt", "").put("timestamp", activity - 5000);
        compose.putObject("operator").putObject(new UUID(1, serial % 4).toString()).put("type", "stop").put("timestamp", activity - 4000);
        c.putObject("unread").put("operator", random.nextInt(3)).put("visitor", 0);
        if (random.nextBoolean()) c.putObject("assigned").put("user_id", new UUID(2, 7).toString());
        else c.putNull("assigned");
        ObjectNode meta = c.putObject("meta");
        meta.put("nickname", "Visiteur " + serial).put("email", "visiteur" + serial + "@example.com").put("phone", "+33 6 12 34 56 78")
                .put("address", "").put("subject", "Commande " + serial).put("ip", "203.0.113." + serial % 250).put("avatar", "")
                .put("origin", "chat");
        meta.putArray("segments").add("client").add("fr");
        meta.putObject("data").put("plan", "pro").put("score", 3.25);
        meta.putObject("connection").put("isp", "Orange").put("asn", "AS3215");
        ObjectNode device = meta.putObject("device");
        device.putArray("capabilities").add("browsing").add("call");
        device.put("timezone", -60);
        device.putArray("locales").add("fr");
        device.putObject("geolocation").put("country", "FR").put("region", "IDF").put("city", "Paris")
                .putObject("coordinates").put("latitude", 48.8566).put("longitude", 2.3522);
        device.putObject("system").putObject("os").put("version", "14").put("name", "Mac OS");
        c.put("created_at", activity - 3_600_000);
        c.put("updated_at", activity);
        if (random.nextInt(4) == 0) c.put("waiting_since", activity);
        return new Conversation(c, id, noActivity ? -1 : activity);
    }

    private Conversation webaConversation(long activity) {
        ObjectNode c = JSON.createObjectNode();
        boolean noId = withoutIdEvery5 && serial % 5 == 0;
        if (!noId) c.put("id", serial);
        c.put("bot_hash", BOT);
        c.put("client_id", "513724");
        String user = "v-" + Long.toString(random.nextLong() & Long.MAX_VALUE, 36) + "-" + serial;
        c.put("user_id", user);
        ArrayNode dialog = c.putArray("dialog");
        int messages = 2 + random.nextInt(6);
        for (int m = 0; m < messages; m++) {
            long at = activity - (messages - 1 - m) * 5000L;
            dialog.addObject().put("role", m % 2 == 0 ? "assistant" : "user")
                    .put("text", m % 2 == 0 ? "Bonjour ! Comment puis-je vous aider ?" : "Quel est votre tarif pour " + serial + " postes ?")
                    .put("id", at / 1000 + "-" + Integer.toString(serial * 31 + m, 36)).put("timestamp", at);
        }
        c.put("message_count", messages);
        c.put("user_agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36");
        c.put("ip_address", "192.0.2." + serial % 250);
        c.put("referrer", "https://google.com");
        c.put("page_url", "https://example.com/pricing");
        c.put("last_message_at", Instant.ofEpochMilli(activity).toString());
        c.put("created_at", Instant.ofEpochMilli(activity - messages * 5000L).toString());
        return new Conversation(c, noId ? null : String.valueOf(serial), activity);
    }

    private void sort() {
        list.sort(Comparator.comparingLong((Conversation c) -> c.activity).reversed()
                .thenComparing(c -> c.id == null ? "" : c.id));
    }

    // ------------------------------------------------------------------ HTTP

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            Fault fault;
            Map<String, String> query = query(exchange.getRequestURI().getRawQuery());
            synchronized (this) {
                requests++;
                log.add(exchange.getRequestMethod() + " " + exchange.getRequestURI());
                fault = !faults.isEmpty() ? faults.poll() : always;
                if (fault instanceof Pass) fault = null;
            }
            if (fault instanceof Drop) return;                       // fermée sans réponse
            if (fault instanceof Hang h) { sleep(h.millis()); return; }
            if (fault instanceof Html) { send(exchange, 200, "<html><body>502 Bad Gateway</body></html>", "text/html"); return; }
            if (fault instanceof Status s) {
                if (s.retryAfter() != null) exchange.getResponseHeaders().add("Retry-After", s.retryAfter());
                synchronized (this) { if (s.code() == 429) rateLimited++; }
                send(exchange, s.code(), kind == Kind.CRISP ? "{\"error\":true,\"reason\":\"injected\",\"data\":{}}" : "{\"error\":\"Injected\"}", "application/json");
                return;
            }
            if (overLimit()) {
                send(exchange, 429, kind == Kind.CRISP ? "{\"error\":true,\"reason\":\"rate_limited\",\"data\":{}}"
                        : "{\"error\":\"Too many requests\",\"code\":\"RATE_LIMITED\"}", "application/json");
                return;
            }
            if (kind == Kind.CRISP) crisp(exchange, query); else weba(exchange, query);
        }
    }

    private synchronized boolean overLimit() {
        long now = System.currentTimeMillis();
        if (quota == 0) { rateLimited++; return true; }
        if (quota > 0) quota--;
        if (rateLimit <= 0) return false;
        while (!recent.isEmpty() && recent.peekFirst() <= now - rateWindowMs) recent.pollFirst();
        if (recent.size() >= rateLimit) { rateLimited++; return true; }
        recent.addLast(now);
        return false;
    }

    private void crisp(HttpExchange exchange, Map<String, String> query) throws IOException {
        String expected = "Basic " + Base64.getEncoder().encodeToString((IDENTIFIER + ":" + KEY).getBytes(StandardCharsets.UTF_8));
        String[] path = exchange.getRequestURI().getPath().split("/");   // "", v1, website, {id}, conversations, {page}
        if (!expected.equals(exchange.getRequestHeaders().getFirst("Authorization"))
                || !"plugin".equals(exchange.getRequestHeaders().getFirst("X-Crisp-Tier"))) {
            send(exchange, 401, "{\"error\":true,\"reason\":\"invalid_session\",\"data\":{}}", "application/json");
            return;
        }
        if (forbidden) { send(exchange, 403, "{\"error\":true,\"reason\":\"not_allowed\",\"data\":{}}", "application/json"); return; }
        if (path.length == 7 && path[4].equals("conversation") && path[6].equals("messages")) { messagesRoute(exchange, path, query); return; }
        if (path.length != 6 || !path[2].equals("website") || !path[4].equals("conversations") || !WEBSITE.equals(path[3])) {
            send(exchange, 404, "{\"error\":true,\"reason\":\"not_found\",\"data\":{}}", "application/json");
            return;
        }
        int page = Integer.parseInt(path[5]);
        int perPage = Math.max(20, Math.min(50, Integer.parseInt(query.getOrDefault("per_page", "20"))));
        ObjectNode body = JSON.createObjectNode().put("error", false).put("reason", "resolved");
        ArrayNode data = body.putArray("data");
        boolean more;
        synchronized (this) {
            listRequests++;
            beforeListPage.accept(page);
            int from = Math.min(list.size(), (page - 1) * perPage), to = Math.min(list.size(), from + perPage);
            for (Conversation c : list.subList(from, to)) data.add(c.node.deepCopy());
            more = to < list.size();
            if (more) partialAnswers++;
        }
        // Comme sur la route des messages : 206 tant qu'il reste des pages (à ne pas prendre pour une fin).
        send(exchange, more ? 206 : 200, JSON.writeValueAsString(body), "application/json");
    }

    private void weba(HttpExchange exchange, Map<String, String> query) throws IOException {
        if (!exchange.getRequestMethod().equals("GET")) { send(exchange, 405, "{\"error\":\"Method not allowed\"}", "application/json"); return; }
        String token = exchange.getRequestHeaders().getFirst("X-Auth-Token");
        if (token == null) { send(exchange, 401, "{\"error\":\"Authentication required\",\"code\":\"AUTH_REQUIRED\"}", "application/json"); return; }
        if (!TOKEN.equals(token)) { send(exchange, 401, "{\"error\":\"Invalid or expired token\",\"code\":\"INVALID_TOKEN\"}", "application/json"); return; }
        String bot = query.get("bot_hash");
        if (bot == null || bot.isEmpty()) { send(exchange, 400, "{\"error\":\"bot_hash is required\"}", "application/json"); return; }
        if (!BOT.equals(bot) || forbidden) { send(exchange, 404, "{\"error\":\"Bot not found or access denied\",\"code\":\"BOT_NOT_FOUND\"}", "application/json"); return; }
        ObjectNode body = JSON.createObjectNode().put("success", true);
        synchronized (this) {
            if (query.containsKey("user_id")) {
                detailRequests++;
                Conversation found = list.stream().filter(c -> query.get("user_id").equals(c.node.path("user_id").asText()))
                        .filter(c -> !lostDetails.contains(c.id)).findFirst().orElse(null);
                if (found == null) {
                    send(exchange, 404, "{\"error\":\"Conversation not found\",\"code\":\"CONVERSATION_NOT_FOUND\"}", "application/json");
                    return;
                }
                body.set("conversation", found.node.deepCopy());
            } else {
                listRequests++;
                int limit = Math.max(1, Math.min(100, Integer.parseInt(query.getOrDefault("limit", "50"))));
                int offset = Math.max(0, Integer.parseInt(query.getOrDefault("offset", "0")));
                beforeListPage.accept(offset / limit + 1);
                List<Conversation> ordered = new ArrayList<>(list);
                if ("oldest".equals(query.get("sort"))) java.util.Collections.reverse(ordered);
                body.put("bot_hash", BOT);
                ArrayNode items = body.putArray("conversations");
                for (Conversation c : ordered.subList(Math.min(offset, ordered.size()), Math.min(offset + limit, ordered.size()))) {
                    ObjectNode summary = items.addObject();
                    if (c.node.has("id")) summary.set("id", c.node.get("id"));
                    JsonNode last = c.node.path("dialog").get(c.node.path("dialog").size() - 1);
                    summary.put("user_id", c.node.path("user_id").asText()).put("message_count", c.node.path("message_count").asInt());
                    String text = last.path("text").asText();
                    summary.putObject("last_message").put("role", last.path("role").asText())
                            .put("text", text.length() > 100 ? text.substring(0, 100) : text).put("timestamp", last.path("timestamp").asLong());
                    summary.put("page_url", c.node.path("page_url").asText()).put("user_agent", c.node.path("user_agent").asText())
                            .put("last_message_at", c.node.path("last_message_at").asText()).put("created_at", c.node.path("created_at").asText());
                }
                body.putObject("pagination").put("total", ordered.size()).put("limit", limit).put("offset", offset)
                        .put("has_more", offset + limit < ordered.size());
            }
        }
        send(exchange, 200, JSON.writeValueAsString(body), "application/json");
    }

    private static void send(HttpExchange exchange, int status, String body, String type) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", type + "; charset=utf-8");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> values = new HashMap<>();
        if (raw == null) return values;
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            if (eq > 0) values.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8), URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
        return values;
    }

    private static void sleep(long millis) {
        try { Thread.sleep(millis); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
    }

    // ==== messages (route minimale du fil « msg » : à remplacer par celle de l'autre fil à la fusion) ====

    /** Requêtes servies par la route des messages. */
    public int messageRequests;
    private boolean inclusiveTimestampBefore;
    private final Map<String, List<ObjectNode>> messageStore = new HashMap<>();
    private static final int MESSAGES_PER_PAGE = 40;

    /** timestamp_before inclusif (la page suivante répète le message de la borne) au lieu d'exclusif. */
    public synchronized FakeServer inclusiveTimestampBefore(boolean value) { inclusiveTimestampBefore = value; return this; }

    /** Les messages que le serveur détient pour cette conversation, du plus ancien au plus récent. */
    public synchronized List<JsonNode> messages(String id) {
        List<ObjectNode> held = heldMessages(id);
        return held == null ? List.of() : held.stream().map(m -> (JsonNode) m.deepCopy()).toList();
    }

    /** Donne {@code n} messages à cette conversation (remplace les précédents). */
    public synchronized void messagesFor(String id, int n) {
        Conversation c = find(id);
        List<ObjectNode> held = new ArrayList<>();
        long start = c.node.path("created_at").asLong();
        for (int i = 0; i < n; i++) held.add(message(c, i, start + i * 1000L));
        messageStore.put(id, held);
    }

    /** Un nouveau message dans la conversation : elle remonte en tête et son updated_at bouge. */
    public synchronized void answer(String id) {
        List<ObjectNode> held = heldMessages(id);
        touch(id);
        Conversation c = find(id);
        c.node.put("updated_at", c.activity);
        held.add(message(c, held.size(), c.activity));
    }

    /** Une conversation dont l'identifiant n'a pas la forme de ceux de Crisp (chemin, majuscules…). */
    public synchronized void addHostileSession(String rawId) {
        Conversation c = crispConversation(clock += 1000);
        c.node.put("session_id", rawId);
        list.add(new Conversation(c.node, rawId, c.activity));
        sort();
    }

    private Conversation find(String id) {
        return list.stream().filter(c -> id.equals(c.id)).findFirst().orElseThrow(() -> new IllegalArgumentException("conversation inconnue : " + id));
    }

    /** Les messages d'une conversation de la liste (créés à la demande : 0 à 6), null si elle n'y est pas. */
    private List<ObjectNode> heldMessages(String id) {
        Conversation c = list.stream().filter(x -> id.equals(x.id)).findFirst().orElse(null);
        if (c == null) return null;
        return messageStore.computeIfAbsent(id, k -> {
            List<ObjectNode> held = new ArrayList<>();
            int n = Math.floorMod(k.hashCode(), 7);
            long start = c.node.path("created_at").asLong();
            for (int i = 0; i < n; i++) held.add(message(c, i, start + i * 1000L));
            return held;
        });
    }

    private ObjectNode message(Conversation c, int i, long timestamp) {
        ObjectNode m = JSON.createObjectNode();
        m.put("session_id", c.id).put("website_id", WEBSITE).put("fingerprint", random.nextLong() & Long.MAX_VALUE).put("timestamp", timestamp);
        String type = List.of("text", "file", "note", "event", "picker").get(i % 5);
        boolean operator = i % 2 == 1;
        m.put("type", type).put("from", operator ? "operator" : "user").put("origin", operator ? "urn:crisp.im:dashboard:0" : "chat");
        switch (type) {
            case "text" -> m.put("content", "Bonjour, message n°" + i + " — « accentué » 😀");
            case "note" -> m.put("content", "Note interne n°" + i);
            case "file" -> m.putObject("content").put("name", "facture-" + i + ".pdf").put("url", "https://example.com/f/" + i + ".pdf").put("type", "application/pdf");
            case "event" -> m.putObject("content").put("namespace", "state:resolved").putObject("text");
            default -> {
                ObjectNode picker = m.putObject("content").put("id", "choix-" + i).put("text", "Votre avis ?");
                picker.putArray("choices").addObject().put("value", "oui").put("label", "Oui").put("selected", i % 3 == 0);
            }
        }
        m.putArray("preview");
        m.putArray("mentions");
        m.put("read", "chat").put("delivered", "").put("stamped", true).put("edited", false).put("automated", false);
        m.putObject("ignored");
        m.putObject("user").put("type", operator ? "website" : "participant").put("user_id", new UUID(3, i % 4).toString())
                .put("nickname", operator ? "Opératrice" : "Visiteur").put("avatar", (String) null);
        m.putArray("references");
        return m;
    }

    private void messagesRoute(HttpExchange exchange, String[] path, Map<String, String> query) throws IOException {
        ObjectNode body = JSON.createObjectNode().put("error", false).put("reason", "resolved");
        ArrayNode data = body.putArray("data");
        boolean more;
        synchronized (this) {
            messageRequests++;
            List<ObjectNode> held = WEBSITE.equals(path[3]) ? heldMessages(URLDecoder.decode(path[5], StandardCharsets.UTF_8)) : null;
            if (held == null) {
                send(exchange, 404, "{\"error\":true,\"reason\":\"" + (WEBSITE.equals(path[3]) ? "session_not_found" : "not_found") + "\",\"data\":{}}", "application/json");
                return;
            }
            String raw = query.get("timestamp_before");
            int end = held.size();
            if (raw != null) {
                long before = Long.parseLong(raw);
                end = 0;
                while (end < held.size() && (held.get(end).get("timestamp").asLong() < before
                        || inclusiveTimestampBefore && held.get(end).get("timestamp").asLong() == before)) end++;
            }
            int from = Math.max(0, end - MESSAGES_PER_PAGE);
            for (ObjectNode m : held.subList(from, end)) data.add(m.deepCopy());
            more = from > 0;
        }
        // 206 : d'autres messages plus anciens existent ; 200 : c'est la dernière page.
        send(exchange, more ? 206 : 200, JSON.writeValueAsString(body), "application/json");
    }

    // ==== messages : fin ====

    /** Lancement à la main : {@code ./jbang fake/FakeServer.java [crisp|weba] [nombre de conversations] [port]}. */
    public static void main(String[] args) throws Exception {
        Kind kind = args.length > 0 && args[0].equalsIgnoreCase("weba") ? Kind.WEBA : Kind.CRISP;
        int count = args.length > 1 ? Integer.parseInt(args[1]) : 500;
        FakeServer fake = new FakeServer(kind, count);
        if (kind == Kind.WEBA) fake.rateLimit(100, 60_000);   // la limite annoncée par Weba-AI
        System.out.println("Faux serveur " + kind.name().toLowerCase() + " : " + count + " conversations sur " + fake.url());
        System.out.println("Dans un autre terminal :");
        fake.env().forEach((k, v) -> System.out.println("  export " + k + "=" + v));
        System.out.println("  ./jbang conv.java " + (kind == Kind.WEBA ? "--source weba " : "") + "--base-url " + fake.url()
                + " --output /tmp/essai.jsonl --nb 100");
        System.out.println("Ctrl-C pour arrêter.");
        Thread.currentThread().join();
    }
}
