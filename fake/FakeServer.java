///usr/bin/env jbang "$0" "$@" ; exit $?
//DESCRIPTION Faux serveurs Crisp et Weba-AI : pour essayer conv sans compte, et pour ses tests.
//JAVA 17+
//DEPS com.fasterxml.jackson.core:jackson-databind:2.17.2

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.util.RawValue;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigDecimal;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.function.IntConsumer;

/**
 * Un faux serveur qui se comporte comme les vraies API, telles que mesurées dans les notes du projet
 * ({@code crisp-api.md}, {@code weba-api.md}).
 *
 * <p><b>Crisp.</b> Chaque conversation a deux dates détachées : {@code updated_at} (bouge avec les messages et les
 * changements d'état) et {@code active.last} (dernière présence du visiteur sur le site, qui bouge sans message).
 * À la création, {@code active.last} tombe après {@code updated_at} dans 96 % des cas (p25 +26 h, médiane +8,8 j,
 * p95 +34 j, max +40 j), avant (jusqu'à 15 h) dans les autres ; 1 % n'a pas de {@code active.last} (mais garde
 * {@code active {now:false}}). Une conversation créée « maintenant » ne peut pas avoir été vue dans le futur : sa
 * présence est bornée à l'horloge (plus moins d'une seconde). La liste se sert dans l'ordre de la boîte de Crisp
 * sans paramètre (en attente non lues, en attente, non résolues non lues, non résolues, résolues ; puis
 * {@code updated_at} décroissant), et par {@code updated_at} décroissant avec {@code order_date_updated=1} ;
 * {@code filter_date_start}/{@code filter_date_end} filtrent sur {@code updated_at} (bornes incluses). Elle bouge
 * entre deux pages ({@link #beforeListPage}) et quand les opérateurs répondent ou résolvent ({@link #answer},
 * {@link #resolve}) ; un visiteur qui revient sans écrire ne déplace que {@code active.last} ({@link #visit}). La route des messages sert des pages de 40 (les plus anciens
 * d'abord dans la page), 206 tant qu'il en reste de plus anciens, 200 sur la dernière ; {@code timestamp_before}
 * exclusif par défaut ({@link #inclusiveTimestampBefore}).
 *
 * <p><b>Weba-AI.</b> {@code ORDER BY last_message_at LIMIT/OFFSET} sans départage : les ex aequo reviennent dans un
 * ordre tiré à chaque requête ({@link #withTies}) ; la fiche se cherche par {@code user_id} du visiteur, la première
 * créée l'emporte ({@link #sameVisitor}).
 *
 * <p><b>Crisp, profils des contacts.</b> {@code /people/profiles/{page}} sert des pages de 20 à 50 profils réalistes
 * (sans e-mail, casse, accents, {@code +}) dans l'ordre de création, ou par {@code updated_at} décroissant quand
 * {@code sort_field=updated_at&sort_order=descending} est demandé ; {@link #peopleSort} fait ignorer ou refuser (400)
 * ce tri. Des profils naissent et changent entre deux pages ou deux exécutions ({@link #addPeople}, {@link #updatePerson}).
 *
 * <p>Communs : authentification, limite de débit, quota, fautes injectées (5xx, 429, HTML, connexion coupée,
 * absence de réponse) et amont hostile (même page pour tout numéro, redirection vers une autre origine, corps au
 * goutte-à-goutte, chaîne énorme, imbrication profonde, date hors des entiers longs).
 *
 * <p>À la main : {@code ./jbang fake/FakeServer.java crisp 500} (ou {@code weba 300}) affiche les variables
 * à définir pour lancer conv contre lui ; {@code ./jbang fake/FakeServer.java selftest} vérifie le faux serveur.
 */
public class FakeServer implements AutoCloseable {
    public static final String IDENTIFIER = "fake-identifier";
    public static final String KEY = "fake-key-4f9c1e";
    public static final String WEBSITE = "8c842203-7ed8-4e29-a608-7cf78a7d2fcc";
    public static final String TOKEN = "fake-token-7d2a90";
    public static final String BOT = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";
    /** Taille d'une page de messages Crisp. */
    public static final int MESSAGES_PER_PAGE = 40;
    static final ObjectMapper JSON = new ObjectMapper();
    private static final long HOUR = 3_600_000L, DAY = 24 * HOUR;

    public enum Kind { CRISP, WEBA }

    /** Une faute servie à la place d'une réponse normale. */
    public sealed interface Fault permits Pass, Status, Html, Drop, Hang, Endless { }
    /** Une réponse normale (pour placer une faute plus loin dans la file). */
    public record Pass() implements Fault { }
    public record Status(int code, String retryAfter) implements Fault { }
    public record Html() implements Fault { }
    public record Drop() implements Fault { }
    public record Hang(long millis) implements Fault { }
    /** Un 200 dont le corps ne finit jamais : le serveur écrit jusqu'à ce que le client raccroche. */
    public record Endless() implements Fault { }

    /**
     * Une conversation du faux compte. {@code key} : la clé de tri de la liste ({@code updated_at} pour Crisp,
     * {@code last_message_at} pour Weba-AI, en ms).
     */
    static final class Conversation {
        final ObjectNode node;
        final String id;
        final int serial;
        long key;
        final List<ObjectNode> messages = new ArrayList<>();   // Crisp : du plus ancien au plus récent
        Random messageRandom;
        String hostile;                                         // JSON brut glissé dans meta.data.hostile
        Conversation(ObjectNode node, String id, int serial, long key) { this.node = node; this.id = id; this.serial = serial; this.key = key; }
    }

    public final Kind kind;
    private final HttpServer server;
    private final List<Conversation> list = new ArrayList<>();   // dans l'ordre de création (l'ordre des lignes en base)
    private final Random random = new Random(42);
    private final Random tieShuffle = new Random(4242);
    private final Deque<Fault> faults = new ArrayDeque<>();
    private final Deque<Long> recent = new ArrayDeque<>();
    private long clock = 1_763_800_000_000L;
    private int serial;
    private Fault always;
    private int rateLimit, quota = -1;
    private long rateWindowMs = 60_000;
    private IntConsumer beforeListPage = page -> { };
    private boolean forbidden;
    private final Set<String> lostDetails = new HashSet<>();
    private boolean withoutIdEvery5, withoutActivityEvery7;
    private boolean brokenOrder, samePage, inclusiveBefore;
    private String redirectOrigin, armedHostile, hostileId, messageHabit = "crisp";
    private final Map<String, String> messageFailures = new HashMap<>();
    private final Map<String, Integer> notFound = new HashMap<>();
    private int dripRate, tieGroup, tieLeft;
    private volatile boolean closed;
    /** {@code partialAnswers} : réponses 206 de la liste Crisp (pas celles de la route des messages). */
    public int requests, listRequests, detailRequests, rateLimited, partialAnswers;
    /** Pages de liste Crisp demandées avec {@code order_date_updated=1}. */
    public int orderedRequests;
    /** Requêtes sur la route des messages Crisp. */
    public int messageRequests;
    /** Réponses interrompues par le client (corps qui s'égoutte ou sans fin) : il a fermé la connexion. */
    public int hungUp;
    /** Réponses 302 envoyées par {@link #redirectTo}. */
    public int redirected;
    public final List<String> log = new ArrayList<>();

    public FakeServer(Kind kind, int conversations) throws IOException {
        // Sans cela, le serveur du JDK attend l'accusé de réception retardé du client (40 ms par réponse).
        System.setProperty("sun.net.httpserver.nodelay", "true");
        this.kind = kind;
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(Executors.newFixedThreadPool(8, r -> { Thread t = new Thread(r, "fake"); t.setDaemon(true); return t; }));
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

    @Override public void close() { closed = true; server.stop(0); }

    // ------------------------------------------------------------------ ce que les tests règlent

    /** Désormais, une conversation sur 5 créée n'a pas d'identifiant, une sur 7 pas d'{@code active} du tout. */
    public synchronized FakeServer withGaps() { withoutIdEvery5 = true; withoutActivityEvery7 = true; return this; }

    /**
     * Weba-AI : désormais, les conversations créées partagent leur {@code last_message_at} (à la seconde) par groupes
     * de {@code groupSize} ; la liste sert les ex aequo dans un ordre retiré à chaque requête. 0 ou 1 : plus d'ex aequo.
     */
    public synchronized FakeServer withTies(int groupSize) { tieGroup = Math.max(0, groupSize); tieLeft = 0; return this; }

    /**
     * Ajoute des conversations : anciennes ({@code recentActivity} faux : dans le passé, de plus en plus anciennes),
     * ou nouvelles (datées maintenant, l'horloge avançant d'une seconde à chacune ; Crisp : en attente, non lues).
     */
    public synchronized void add(int count, boolean recentActivity) {
        for (int i = 0; i < count; i++) {
            serial++;
            list.add(kind == Kind.CRISP ? crispConversation(nextDate(recentActivity), recentActivity, null) : webaConversation(nextDate(recentActivity)));
        }
    }

    private long nextDate(boolean recentActivity) {
        if (kind == Kind.WEBA && tieGroup > 1) {
            if (recentActivity) {
                if (tieLeft == 0) { clock += 1000; tieLeft = tieGroup; }
                tieLeft--;
                return clock;
            }
            return 1_710_000_000_000L - (long) ((serial - 1) / tieGroup) * 60_000;
        }
        return recentActivity ? (clock += 1000) : 1_700_000_000_000L + (long) serial * -60_000 + 10_000_000_000L;
    }

    /** Crisp : ajoute une conversation récente dont le {@code session_id} est hostile (ex. {@code ../../etc/x}). */
    public synchronized void addHostileSession(String rawSessionId) {
        requireCrisp();
        serial++;
        list.add(crispConversation(clock += 1000, true, rawSessionId));
    }

    /**
     * Nouveau message du visiteur : Crisp, {@code updated_at} = horloge, et le visiteur est là, donc
     * {@code active.last} = horloge aussi ; une conversation résolue redevient non résolue. Weba-AI : un message de
     * plus dans le dialogue, {@code last_message_at} = horloge. Identifiant inconnu : rien.
     */
    public synchronized void touch(String id) {
        Conversation c = find(id);
        if (c == null) return;
        long now = clock += 1000;
        if (kind == Kind.WEBA) {
            ArrayNode dialog = (ArrayNode) c.node.get("dialog");
            dialog.addObject().put("role", "user").put("text", "Je reviens vers vous au sujet de ma demande " + c.serial + ".")
                    .put("id", now / 1000 + "-" + Integer.toString(c.serial * 31 + dialog.size(), 36)).put("timestamp", now);
            c.node.put("message_count", dialog.size());
            c.node.put("last_message_at", Instant.ofEpochMilli(now).toString());
            c.key = now;
            return;
        }
        appendMessage(c, "text", "user", "Je reviens vers vous : la commande n°" + c.serial + " n'est toujours pas arrivée.", now);
        ObjectNode unread = (ObjectNode) c.node.get("unread");
        unread.put("operator", unread.path("operator").asInt() + 1);
        if ("resolved".equals(c.node.path("state").asText())) setState(c, "unresolved");
        if (!c.node.has("waiting_since")) c.node.put("waiting_since", now);
        c.node.putObject("active").put("now", true).put("last", now);
        setUpdated(c, now);
    }

    /** Crisp : un opérateur répond ; {@code updated_at} = horloge, non résolue, plus rien de non lu côté opérateur. */
    public synchronized void answer(String id) {
        Conversation c = crispOf(id);
        long now = clock += 1000;
        appendMessage(c, "text", "operator", "Bonjour, merci pour votre message : je regarde votre commande n°" + c.serial + ".", now);
        setState(c, "unresolved");
        ((ObjectNode) c.node.get("unread")).put("operator", 0).put("visitor", 1);
        c.node.remove("waiting_since");
        setUpdated(c, now);
    }

    /** Crisp : un opérateur résout la conversation ; {@code updated_at} = horloge, sans nouveau message. */
    public synchronized void resolve(String id) {
        Conversation c = crispOf(id);
        setState(c, "resolved");
        c.node.remove("waiting_since");
        setUpdated(c, clock += 1000);
    }

    /** Crisp : le visiteur revient sur le site sans écrire : {@code active.last} = horloge, {@code updated_at} inchangé. */
    public synchronized void visit(String id) {
        Conversation c = crispOf(id);
        c.node.putObject("active").put("now", true).put("last", clock += 1000);
    }

    /** Crisp : force {@code updated_at} (ex. une date en 2100) ; les messages ne bougent pas. */
    public synchronized void setUpdatedAt(String id, long updatedAt) { setUpdated(crispOf(id), updatedAt); }

    /**
     * Crisp : {@code updated_at} servi tel quel en JSON brut (ex. {@code "99999999999999999999999"}, au-delà d'un
     * long). Pour le tri, un nombre trop grand vaut {@code Long.MAX_VALUE}, trop petit ou non numérique
     * {@code Long.MIN_VALUE}.
     */
    public synchronized void rawUpdatedAt(String id, String rawJson) {
        Conversation c = crispOf(id);
        c.node.putRawValue("updated_at", new RawValue(rawJson));
        long key;
        try {
            BigDecimal value = new BigDecimal(rawJson.trim());
            key = value.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0 ? Long.MAX_VALUE
                    : value.compareTo(BigDecimal.valueOf(Long.MIN_VALUE)) < 0 ? Long.MIN_VALUE : value.longValue();
        } catch (NumberFormatException e) {
            key = Long.MIN_VALUE;
        }
        c.key = key;
    }

    /** Crisp : force {@code active.last} ; {@code null} l'enlève (il reste {@code active {now:false}}). */
    public synchronized void setPresence(String id, Long activeLast) {
        ObjectNode active = crispOf(id).node.putObject("active").put("now", false);
        if (activeLast != null) active.put("last", activeLast);
    }

    /** Crisp : quand {@code on}, {@code order_date_updated} est ignoré et la liste suit l'ordre de la boîte. */
    public synchronized void breakOrder(boolean on) { brokenOrder = on; }

    /** Le temps passe (entre deux exécutions quotidiennes, par exemple) : les prochaines dates seront plus tardives. */
    public synchronized void advanceClock(long millis) { clock += millis; }

    /** Chaque numéro de page (chaque offset pour Weba-AI) sert le contenu de la première. */
    public synchronized void samePageForEveryPage(boolean on) { samePage = on; }

    /**
     * Toute requête reçoit un 302 vers la même adresse sur {@code otherOrigin} (ex. {@code recorder().url()}) ;
     * {@code null} : plus de redirection.
     */
    public synchronized void redirectTo(String otherOrigin) {
        redirectOrigin = otherOrigin == null ? null : otherOrigin.replaceAll("/+$", "");
    }

    /** Les en-têtes partent tout de suite, puis le corps à {@code bytesPerSecond} octets par seconde ; 0 : normal. */
    public synchronized void drip(int bytesPerSecond) { dripRate = Math.max(0, bytesPerSecond); }

    /**
     * La prochaine page de liste servie (quels que soient son numéro et son ordre) a, sur sa première conversation,
     * une chaîne de {@code chars} caractères dans {@code meta.data.hostile} (Weba-AI : {@code hostile}) ; la
     * conversation la garde ensuite (relectures, fiche) : {@link #hostileId()} dit laquelle. Le reste est valide.
     */
    public synchronized void hugeString(int chars) { armedHostile = "\"" + "x".repeat(chars) + "\""; }

    /** Comme {@link #hugeString(int)}, avec des tableaux imbriqués sur {@code depth} niveaux. */
    public synchronized void deepNesting(int depth) { armedHostile = "[".repeat(depth) + "]".repeat(depth); }

    /** La même charge, posée tout de suite sur une conversation donnée ; {@code chars <= 0} l'enlève. */
    public synchronized void hugeString(String id, int chars) { find(idOrFail(id)).hostile = chars <= 0 ? null : "\"" + "x".repeat(chars) + "\""; }

    public synchronized void deepNesting(String id, int depth) {
        find(idOrFail(id)).hostile = depth <= 0 ? null : "[".repeat(depth) + "]".repeat(depth);
    }

    /** La conversation qui a reçu la dernière charge de {@link #hugeString(int)} ou {@link #deepNesting(int)} (null avant). */
    public synchronized String hostileId() { return hostileId; }

    /** Pose la charge armée sur la première conversation d'une page sur le point d'être servie. */
    private void placeArmedHostile(List<Conversation> page) {
        if (armedHostile == null || page.isEmpty()) return;
        page.get(0).hostile = armedHostile;
        hostileId = page.get(0).id;
        armedHostile = null;
    }

    /** Crisp : {@code timestamp_before} inclus plutôt qu'exclu (le vrai n'est pas documenté). */
    public synchronized void inclusiveTimestampBefore(boolean on) { inclusiveBefore = on; }

    /**
     * Crisp : le code de la route des messages ; {@code "crisp"} (défaut) : 206 tant qu'il en reste, 200 sur la dernière ;
     * {@code "206"} : toujours 206 (dernière page comprise) ; {@code "200"} : toujours 200 (pages pleines comprises).
     */
    public synchronized void messageStatusHabit(String habit) { messageHabit = habit; }

    /**
     * Crisp : les {@code count} messages à partir du {@code fromNewest}-ième en partant du plus récent (0 : le plus récent)
     * prennent la date du plus récent d'entre eux : des ex aequo sur une milliseconde, dans l'ordre de la liste.
     */
    public synchronized void tieMessages(String id, int fromNewest, int count) {
        List<ObjectNode> m = crispOf(id).messages;
        int newest = m.size() - 1 - fromNewest;
        long at = m.get(newest).path("timestamp").asLong();
        for (int i = newest; i > newest - count; i--) m.get(i).put("timestamp", at);
    }

    /** Crisp : un opérateur modifie un message (même empreinte, {@code edited}, {@code read} changé) ; 0 : le plus récent. */
    public synchronized void editMessage(String id, int fromNewest, String content) {
        List<ObjectNode> m = crispOf(id).messages;
        m.get(m.size() - 1 - fromNewest).put("content", content).put("edited", true).put("read", "urn:edited");
    }

    /**
     * Crisp : la route des messages de cette conversation échoue toujours : {@code "500"}, {@code "400"}, {@code "deep"}
     * (imbrication au-delà des limites), {@code "huge"} (chaîne de plus de 32 Mo), {@code "utf8"} (UTF-8 invalide) ; null : plus d'échec.
     */
    public synchronized void failMessages(String id, String how) { if (how == null) messageFailures.remove(id); else messageFailures.put(id, how); }

    /** Crisp : les {@code times} prochaines requêtes sur cette conversation (messages ou conversation seule) répondent 404. */
    public synchronized void notFound(String id, int times) { notFound.put(id, times); }

    /** Crisp : remplace l'historique de la conversation par {@code n} messages (le plus récent à {@code updated_at}). */
    public synchronized void messagesFor(String id, int n) {
        Conversation c = crispOf(id);
        long newest = newestMessageTime(c);
        c.messages.clear();
        if (n > 0) history(c, n, newest);
    }

    /** Crisp : les messages actuels de la conversation, du plus ancien au plus récent (copies) ; vide si inconnue. */
    public synchronized List<JsonNode> messages(String id) {
        Conversation c = find(id);
        if (c == null) return List.of();
        return c.messages.stream().map(m -> (JsonNode) m.deepCopy()).toList();
    }

    /**
     * Weba-AI : la conversation {@code idB} prend le visiteur ({@code user_id}) de {@code idA}. La fiche, cherchée par
     * visiteur avec LIMIT 1, rend alors la première créée des deux pour l'une comme pour l'autre : rend son id.
     */
    public synchronized String sameVisitor(String idA, String idB) {
        if (kind != Kind.WEBA) throw new IllegalStateException("sameVisitor : Weba-AI seulement");
        Conversation a = find(idOrFail(idA)), b = find(idOrFail(idB));
        b.node.put("user_id", a.node.path("user_id").asText());
        return (a.serial < b.serial ? a : b).id;
    }

    /** Une conversation réaliste de plus, hors liste (pour fabriquer de gros fichiers). Crisp : {@code active.last} = {@code activity}. */
    public synchronized ObjectNode sample(long activity) {
        serial++;
        if (kind == Kind.WEBA) return webaConversation(activity).node;
        // Le fichier est trié sur active.last : c'est elle qu'on fixe, updated_at la précède (ou la suit de peu).
        long offset = presenceOffset(random);
        long updated = activity - (offset == Long.MIN_VALUE ? HOUR : offset);
        ObjectNode node = crispNode("session_" + new UUID(random.nextLong(), random.nextLong()), updated, updated - 20 * 60_000, random, "resolved");
        node.putObject("active").put("now", false).put("last", activity);
        return node;
    }

    public synchronized void delete(String id) { list.removeIf(c -> id.equals(c.id)); }

    /**
     * Les identifiants présents (sans ceux qui n'en ont pas), dans l'ordre où la liste les sert avec
     * {@code order_date_updated=1} : Crisp, {@code updated_at} décroissant puis {@code session_id} ; Weba-AI,
     * {@code last_message_at} décroissant puis ordre de création (la liste réelle sert les ex aequo dans n'importe
     * quel ordre).
     */
    public synchronized List<String> ids() { return byKey().stream().map(c -> c.id).filter(i -> i != null).toList(); }

    /** Les identifiants dans l'ordre par défaut de la boîte Crisp (états, puis {@code updated_at} décroissant). */
    public synchronized List<String> inboxIds() { return inboxOrder().stream().map(c -> c.id).filter(i -> i != null).toList(); }

    public synchronized int size() { return list.size(); }

    /** Ce que l'API servirait pour cette conversation (copie profonde, telle que relue par Jackson) ; null si inconnue. */
    public synchronized JsonNode conversation(String id) {
        Conversation c = find(id);
        return c == null ? null : reparsed(kind == Kind.CRISP ? served(c) : c.node.deepCopy());
    }

    /** {@link #conversation} pour toutes, dans l'ordre de {@link #ids()}. */
    public synchronized Map<String, JsonNode> snapshot() {
        Map<String, JsonNode> all = new LinkedHashMap<>();
        for (String id : ids()) all.put(id, conversation(id));
        return all;
    }

    /** Change la suite pseudo-aléatoire (des identifiants différents d'un faux serveur à l'autre). */
    public synchronized FakeServer reseed(long seed) { random.setSeed(seed); tieShuffle.setSeed(seed ^ 4242); return this; }

    public synchronized void inject(Fault... next) { faults.addAll(List.of(next)); }
    public synchronized void always(Fault fault) { always = fault; }
    public synchronized void rateLimit(int max, long windowMs) { rateLimit = max; rateWindowMs = windowMs; }
    /** Quota journalier à la Crisp : au-delà de {@code requests} requêtes, tout est refusé en 429. */
    public synchronized void quota(int requests) { quota = requests; }
    public synchronized void forbidden(boolean value) { forbidden = value; }
    /** Weba-AI : la conversation reste dans la liste mais sa fiche répond 404 CONVERSATION_NOT_FOUND. */
    public synchronized void loseDetail(String id) { lostDetails.add(id); }
    /**
     * L'horloge du serveur, d'où sont datées ses nouvelles conversations et ses changements (qui l'avancent d'une seconde
     * chacun). L'en-tête Date, que le serveur HTTP du JDK écrit toujours lui-même, reste l'heure exacte : pour un serveur en
     * avance sur le client, on règle ici l'heure exacte et on retarde le client (--clock-offset-ms).
     */
    public synchronized FakeServer clockAt(long epochMillis) { clock = epochMillis; return this; }
    /** Appelé avant de servir chaque page de liste, pour faire bouger la liste entre deux pages. */
    public synchronized void beforeListPage(IntConsumer hook) { beforeListPage = hook; }

    // ------------------------------------------------------------------ état interne

    private Conversation find(String id) {
        if (id == null) return null;
        for (Conversation c : list) if (id.equals(c.id)) return c;
        return null;
    }

    private String idOrFail(String id) {
        if (find(id) == null) throw new IllegalArgumentException("conversation inconnue : " + id);
        return id;
    }

    private Conversation crispOf(String id) {
        requireCrisp();
        return find(idOrFail(id));
    }

    private void requireCrisp() { if (kind != Kind.CRISP) throw new IllegalStateException("Crisp seulement"); }

    private static void setState(Conversation c, String state) {
        c.node.put("state", state);
        c.node.put("status", switch (state) { case "pending" -> 0; case "unresolved" -> 1; default -> 2; });
    }

    private static void setUpdated(Conversation c, long updated) {
        c.node.put("updated_at", updated);
        c.key = updated;
    }

    private static String idText(Conversation c) { return c.id == null ? "" : c.id; }

    /** Par clé de liste décroissante, puis identifiant (Crisp) ou création (Weba-AI). */
    private List<Conversation> byKey() {
        List<Conversation> ordered = new ArrayList<>(list);
        Comparator<Conversation> byKey = Comparator.comparingLong((Conversation c) -> c.key).reversed();
        ordered.sort(kind == Kind.CRISP ? byKey.thenComparing(FakeServer::idText) : byKey.thenComparingInt(c -> c.serial));
        return ordered;
    }

    private static int inboxRank(Conversation c) {
        boolean unread = c.node.path("unread").path("operator").asInt() > 0;
        return switch (c.node.path("state").asText()) {
            case "pending" -> unread ? 0 : 1;
            case "unresolved" -> unread ? 2 : 3;
            default -> 4;
        };
    }

    private List<Conversation> inboxOrder() {
        List<Conversation> ordered = new ArrayList<>(list);
        ordered.sort(Comparator.comparingInt(FakeServer::inboxRank)
                .thenComparing(Comparator.comparingLong((Conversation c) -> c.key).reversed())
                .thenComparing(FakeServer::idText));
        return ordered;
    }

    /** L'objet servi : une copie, avec la charge hostile éventuelle en JSON brut. */
    private ObjectNode served(Conversation c) {
        ObjectNode copy = c.node.deepCopy();
        if (c.hostile != null) {
            JsonNode meta = copy.get("meta");
            ObjectNode target = meta instanceof ObjectNode m && m.get("data") instanceof ObjectNode d ? d : copy;
            target.putRawValue("hostile", new RawValue(c.hostile));
        }
        return copy;
    }

    private static JsonNode reparsed(ObjectNode node) {
        try {
            return JSON.readTree(JSON.writeValueAsString(node));
        } catch (IOException | RuntimeException beyondLimits) {
            return node;   // au-delà des limites de Jackson : l'objet tel quel
        }
    }

    // ------------------------------------------------------------------ données réalistes

    /**
     * Écart présence - mise à jour tiré comme dans les données réelles ; {@code Long.MIN_VALUE} : pas de
     * {@code active.last} (1 %).
     */
    static long presenceOffset(Random r) {
        int bucket = r.nextInt(100);
        if (bucket == 0) return Long.MIN_VALUE;
        if (bucket <= 4) return -(60_000 + (long) (r.nextDouble() * (15 * HOUR - 60_000)));   // plus tôt, 15 h au plus
        // Quantiles des 96 % « plus tard » (ramenés de ceux de l'ensemble) : interpolation par morceaux.
        double u = r.nextDouble();
        double[] q = {0, 0.219, 0.479, 0.948, 1};
        double[] v = {60_000, 26 * HOUR, 8.8 * DAY, 34 * DAY, 40 * DAY};
        for (int i = 1; i < q.length; i++) {
            if (u > q[i]) continue;
            double t = (u - q[i - 1]) / (q[i] - q[i - 1]);
            return (long) (i <= 2 ? v[i - 1] * Math.pow(v[i] / v[i - 1], t) : v[i - 1] + t * (v[i] - v[i - 1]));
        }
        return (long) (40 * DAY);
    }

    private Conversation crispConversation(long updated, boolean recent, String rawSessionId) {
        boolean noId = rawSessionId == null && withoutIdEvery5 && serial % 5 == 0;
        boolean noActivity = withoutActivityEvery7 && serial % 7 == 0;
        String id = rawSessionId != null ? rawSessionId : noId ? null : "session_" + new UUID(random.nextLong(), random.nextLong());
        Random own = new Random(random.nextLong());
        String state = recent ? "pending" : pickState(random);
        Conversation c = new Conversation(crispNode(id, updated, updated, random, state), id, serial, updated);
        c.messageRandom = own;
        history(c, 1 + (int) Math.min(14, Math.floor(-Math.log(1 - own.nextDouble()) * 5)), updated);
        if (recent) ((ObjectNode) c.node.get("unread")).put("operator", 1);
        c.node.remove("active");
        if (!noActivity) {
            ObjectNode active = c.node.putObject("active").put("now", false);
            long offset = presenceOffset(random);
            if (offset != Long.MIN_VALUE) active.put("last", Math.min(updated + offset, Math.max(updated, clock) + 1 + random.nextInt(999)));
        }
        return c;
    }

    private static String pickState(Random r) {
        int x = r.nextInt(100);
        return x < 10 ? "pending" : x < 35 ? "unresolved" : "resolved";
    }

    /** L'objet conversation de la liste, sans messages ni {@code active} définitifs. */
    private ObjectNode crispNode(String id, long updated, long firstMessage, Random r, String state) {
        ObjectNode c = JSON.createObjectNode();
        if (id != null) c.put("session_id", id);
        c.put("website_id", WEBSITE);
        c.put("inbox_id", (String) null);
        c.put("people_id", new UUID(r.nextLong(), r.nextLong()).toString());
        c.put("state", state);
        c.put("status", switch (state) { case "pending" -> 0; case "unresolved" -> 1; default -> 2; });
        c.put("is_verified", r.nextBoolean());
        c.put("is_blocked", false);
        c.put("availability", "offline");
        c.putObject("active").put("now", false).put("last", updated);
        c.put("last_message", "Bonjour, j'ai une question sur ma commande n°" + serial + " — merci !");
        c.putObject("preview_message").put("type", "text").put("from", "user").put("excerpt", "Bonjour, j'ai une question…")
                .put("fingerprint", r.nextLong() & Long.MAX_VALUE);
        c.put("topic", "");
        c.putArray("verifications");
        c.putArray("participants");
        c.putArray("mentions");
        ObjectNode compose = c.putObject("compose");
        compose.putObject("visitor").put("type", "start").put("excerpt", "").put("timestamp", updated - 5000);
        compose.putObject("operator").putObject(new UUID(1, serial % 4).toString()).put("type", "stop").put("timestamp", updated - 4000);
        c.putObject("unread").put("operator", "resolved".equals(state) ? 0 : r.nextInt(3)).put("visitor", 0);
        if (r.nextBoolean()) c.putObject("assigned").put("user_id", new UUID(2, 7).toString());
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
        c.put("created_at", Math.min(firstMessage, updated) - 2000);
        c.put("updated_at", updated);
        if ("pending".equals(state) && r.nextInt(4) != 0) c.put("waiting_since", updated);
        return c;
    }

    private long newestMessageTime(Conversation c) {
        return c.messages.isEmpty() ? c.node.path("updated_at").asLong(clock) : c.messages.get(c.messages.size() - 1).path("timestamp").asLong();
    }

    /** Un historique de {@code n} messages finissant à {@code newest} ; met à jour created_at et l'aperçu. */
    private void history(Conversation c, int n, long newest) {
        Random r = c.messageRandom;
        long[] at = new long[n];
        at[n - 1] = newest;
        for (int i = n - 2; i >= 0; i--) at[i] = at[i + 1] - 1000L * (20 + r.nextInt(n > 40 ? 1800 : 600)) - r.nextInt(1000);
        for (int i = 0; i < n; i++) {
            String from = i == 0 || i == n - 1 ? "user" : r.nextInt(5) < 2 ? "user" : "operator";
            int pick = r.nextInt(20);
            String type = i == 0 || i == n - 1 || pick < 13 ? "text" : pick < 15 ? "file" : pick < 17 ? "note" : pick < 19 ? "event" : "picker";
            if (type.equals("note") || type.equals("event") || type.equals("picker")) from = "operator";
            c.messages.add(message(c, type, from, textFor(c, from, i), at[i]));
        }
        c.node.put("created_at", at[0] - 2000);
        refreshPreview(c);
    }

    private static String textFor(Conversation c, String from, int i) {
        return from.equals("user")
                ? List.of("Bonjour, j'ai une question sur ma commande n°" + c.serial + " — merci !", "Ma livraison est en retard.",
                        "Pouvez-vous m'envoyer la facture ?", "Merci beaucoup !").get(i % 4)
                : List.of("Bonjour ! Je regarde cela tout de suite.", "Votre colis part demain.", "Voici le lien de suivi : https://example.com/suivi")
                        .get(i % 3);
    }

    private void appendMessage(Conversation c, String type, String from, String text, long at) {
        if (c.messageRandom == null) c.messageRandom = new Random(c.serial);
        c.messages.add(message(c, type, from, text, at));
        refreshPreview(c);
    }

    private ObjectNode message(Conversation c, String type, String from, String text, long at) {
        Random r = c.messageRandom;
        ObjectNode m = JSON.createObjectNode();
        if (c.id != null) m.put("session_id", c.id);
        m.put("website_id", WEBSITE);
        m.put("type", type).put("from", from).put("origin", "chat");
        switch (type) {
            case "file" -> m.putObject("content").put("name", "capture-" + c.serial + ".png")
                    .put("url", "https://storage.crisp.chat/users/upload/session/" + Long.toHexString(r.nextLong()) + "/capture.png")
                    .put("type", "image/png");
            case "event" -> m.putObject("content").put("namespace", "state:resolved");
            case "picker" -> {
                ObjectNode picker = m.putObject("content").put("id", "satisfaction").put("text", "Notre réponse vous a-t-elle aidé ?");
                ArrayNode choices = picker.putArray("choices");
                choices.addObject().put("value", "yes").put("icon", "👍").put("label", "Oui").put("selected", r.nextBoolean());
                choices.addObject().put("value", "no").put("icon", "👎").put("label", "Non").put("selected", false);
                picker.put("required", true);
            }
            case "note" -> m.put("content", "Note interne : client fidèle, geste commercial possible.");
            default -> m.put("content", text);
        }
        ArrayNode preview = m.putArray("preview");
        if (type.equals("text") && text.contains("https://"))
            preview.addObject().put("url", "https://example.com/suivi").put("website", "Example (example.com)").put("title", "Suivi de colis");
        m.putArray("mentions");
        m.put("read", r.nextBoolean() ? "chat" : "").put("delivered", "chat");
        m.putObject("ignored");
        m.put("edited", false).put("translated", false).put("automated", false).put("stamped", true);
        m.put("fingerprint", 100_000_000_000_000L + Math.floorMod(r.nextLong(), 900_000_000_000_000L));
        m.put("timestamp", at);
        ObjectNode user = m.putObject("user");
        if (from.equals("user"))
            user.put("type", "participant").put("user_id", c.node.path("people_id").asText(c.id)).put("nickname", c.node.path("meta").path("nickname").asText("Visiteur"));
        else
            user.put("type", "website").put("user_id", new UUID(1, c.serial % 4).toString()).put("nickname", "Support")
                    .put("avatar", "https://image.crisp.chat/avatar/operator/" + c.serial % 4 + "/240/");
        m.putArray("references");
        return m;
    }

    private static void refreshPreview(Conversation c) {
        if (c.messages.isEmpty()) return;
        ObjectNode last = c.messages.get(c.messages.size() - 1);
        String excerpt = last.path("content").isTextual() ? last.path("content").asText() : "(" + last.path("type").asText() + ")";
        c.node.putObject("preview_message").put("type", last.path("type").asText()).put("from", last.path("from").asText())
                .put("excerpt", excerpt.length() > 60 ? excerpt.substring(0, 60) + "…" : excerpt).put("fingerprint", last.path("fingerprint").asLong());
        for (int i = c.messages.size() - 1; i >= 0; i--)
            if (c.messages.get(i).path("type").asText().equals("text")) { c.node.put("last_message", c.messages.get(i).path("content").asText()); break; }
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
        return new Conversation(c, noId ? null : String.valueOf(serial), serial, activity);
    }

    // ------------------------------------------------------------------ HTTP

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            Fault fault;
            String redirect;
            Map<String, String> query = query(exchange.getRequestURI().getRawQuery());
            synchronized (this) {
                requests++;
                log.add(exchange.getRequestMethod() + " " + exchange.getRequestURI());
                fault = !faults.isEmpty() ? faults.poll() : always;
                if (fault instanceof Pass) fault = null;
                redirect = redirectOrigin;
            }
            if (fault instanceof Drop) return;                       // fermée sans réponse
            if (fault instanceof Hang h) { sleep(h.millis()); return; }
            if (fault instanceof Endless) { endless(exchange); return; }
            if (fault instanceof Html) { send(exchange, 200, "<html><body>502 Bad Gateway</body></html>", "text/html"); return; }
            if (fault instanceof Status s) {
                if (s.retryAfter() != null) exchange.getResponseHeaders().add("Retry-After", s.retryAfter());
                synchronized (this) { if (s.code() == 429) rateLimited++; }
                send(exchange, s.code(), kind == Kind.CRISP ? "{\"error\":true,\"reason\":\"injected\",\"data\":{}}" : "{\"error\":\"Injected\"}", "application/json");
                return;
            }
            if (redirect != null) {
                synchronized (this) { redirected++; }
                exchange.getResponseHeaders().add("Location", redirect + exchange.getRequestURI().toString());
                exchange.sendResponseHeaders(302, -1);
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

    private static final String NOT_FOUND = "{\"error\":true,\"reason\":\"not_found\",\"data\":{}}";

    private void crisp(HttpExchange exchange, Map<String, String> query) throws IOException {
        String expected = "Basic " + Base64.getEncoder().encodeToString((IDENTIFIER + ":" + KEY).getBytes(StandardCharsets.UTF_8));
        if (!expected.equals(exchange.getRequestHeaders().getFirst("Authorization"))
                || !"plugin".equals(exchange.getRequestHeaders().getFirst("X-Crisp-Tier"))) {
            send(exchange, 401, "{\"error\":true,\"reason\":\"invalid_session\",\"data\":{}}", "application/json");
            return;
        }
        if (forbidden) { send(exchange, 403, "{\"error\":true,\"reason\":\"not_allowed\",\"data\":{}}", "application/json"); return; }
        String rawPath = exchange.getRequestURI().getRawPath();
        String site = "/v1/website/" + WEBSITE + "/";
        if (!rawPath.startsWith(site)) { send(exchange, 404, NOT_FOUND, "application/json"); return; }
        String rest = rawPath.substring(site.length());
        if (rest.startsWith("people/profiles/")) { crispPeople(exchange, rest.substring("people/profiles/".length()), query); return; }
        if (rest.startsWith("people/profile/")) { crispPerson(exchange, URLDecoder.decode(rest.substring("people/profile/".length()), StandardCharsets.UTF_8)); return; }
        if (rest.startsWith("conversation/")) {
            // Le session_id peut contenir « / » (hostile) : on le prend entre le préfixe et « /messages ».
            String tail = rest.substring("conversation/".length());
            boolean messages = tail.endsWith("/messages");
            String sessionId = URLDecoder.decode(messages ? tail.substring(0, tail.length() - "/messages".length()) : tail, StandardCharsets.UTF_8);
            if (messages) crispMessages(exchange, sessionId, query); else crispDetail(exchange, sessionId);
            return;
        }
        String[] path = rest.split("/");   // conversations, {page}
        int page;
        try {
            page = path.length == 2 && path[0].equals("conversations") ? Integer.parseInt(path[1]) : 0;
        } catch (NumberFormatException e) {
            page = 0;
        }
        if (page < 1) { send(exchange, 404, NOT_FOUND, "application/json"); return; }
        int perPage;
        try {
            perPage = Math.max(20, Math.min(50, Integer.parseInt(query.getOrDefault("per_page", "20"))));
        } catch (NumberFormatException e) {
            perPage = 20;
        }
        ObjectNode body = JSON.createObjectNode().put("error", false).put("reason", "resolved");
        ArrayNode data = body.putArray("data");
        boolean more, badFilter = false;
        synchronized (this) {
            listRequests++;
            boolean byUpdate = "1".equals(query.get("order_date_updated"));
            if (byUpdate) orderedRequests++;
            beforeListPage.accept(page);
            List<Conversation> ordered = new ArrayList<>(byUpdate && !brokenOrder ? byKey() : inboxOrder());
            // Filtres sur la date de mise à jour (ISO 8601) ; bornes incluses ici, non documenté chez Crisp.
            long start = Long.MIN_VALUE, end = Long.MAX_VALUE;
            try {
                if (query.containsKey("filter_date_start")) start = Instant.parse(query.get("filter_date_start")).toEpochMilli();
                if (query.containsKey("filter_date_end")) end = Instant.parse(query.get("filter_date_end")).toEpochMilli();
            } catch (RuntimeException e) {
                badFilter = true;
            }
            final long from0 = start, to0 = end;
            ordered.removeIf(c -> c.key < from0 || c.key > to0);
            int served = samePage ? 1 : page;
            int from = (int) Math.min(ordered.size(), (long) (served - 1) * perPage), to = Math.min(ordered.size(), from + perPage);
            placeArmedHostile(ordered.subList(from, to));
            for (Conversation c : ordered.subList(from, to)) data.add(served(c));
            more = to < ordered.size();
            if (more && !badFilter) partialAnswers++;
        }
        if (badFilter) { send(exchange, 400, "{\"error\":true,\"reason\":\"invalid_data\",\"data\":{}}", "application/json"); return; }
        // Comme sur la route des messages : 206 tant qu'il reste des pages (à ne pas prendre pour une fin).
        send(exchange, more ? 206 : 200, JSON.writeValueAsString(body), "application/json");
    }

    private void crispDetail(HttpExchange exchange, String sessionId) throws IOException {
        String body;
        synchronized (this) {
            detailRequests++;
            Conversation c = vanished(sessionId) ? null : find(sessionId);
            body = c == null ? null : JSON.writeValueAsString(JSON.createObjectNode().put("error", false).put("reason", "resolved").set("data", served(c)));
        }
        if (body == null) send(exchange, 404, NOT_FOUND, "application/json");
        else send(exchange, 200, body, "application/json");
    }

    private void crispMessages(HttpExchange exchange, String sessionId, Map<String, String> query) throws IOException {
        String body = null, failure;
        boolean more = false;
        synchronized (this) {
            messageRequests++;
            failure = messageFailures.get(sessionId);
            Conversation c = vanished(sessionId) ? null : find(sessionId);
            if (c != null && failure == null) {
                long before = Long.MAX_VALUE;
                String raw = query.get("timestamp_before");
                if (raw != null) {
                    try { before = Long.parseLong(raw.trim()); }
                    catch (NumberFormatException e) { before = Long.MIN_VALUE; }
                }
                int end = 0;   // messages retenus : [0, end) dans l'ordre chronologique
                for (ObjectNode m : c.messages) {
                    long at = m.path("timestamp").asLong();
                    if (at < before || inclusiveBefore && at == before) end++;
                    else break;
                }
                int start = Math.max(0, end - MESSAGES_PER_PAGE);
                more = start > 0;
                ObjectNode envelope = JSON.createObjectNode().put("error", false).put("reason", "resolved");
                ArrayNode data = envelope.putArray("data");
                for (ObjectNode m : c.messages.subList(start, end)) data.add(m.deepCopy());
                body = JSON.writeValueAsString(envelope);
            }
        }
        if (failure != null) { failMessage(exchange, failure); return; }
        // 206 : il reste des messages plus anciens ; 200 : dernière page (les mots des mainteneurs de Crisp).
        if (body == null) send(exchange, 404, NOT_FOUND, "application/json");
        else send(exchange, switch (messageHabit) { case "206" -> 206; case "200" -> 200; default -> more ? 206 : 200; }, body, "application/json");
    }

    /** Vrai (et décompté) si cette conversation doit encore répondre 404. */
    private boolean vanished(String sessionId) {
        Integer left = notFound.get(sessionId);
        if (left == null || left <= 0) return false;
        notFound.put(sessionId, left - 1);
        return true;
    }

    private void failMessage(HttpExchange exchange, String how) throws IOException {
        String page = "{\"error\":false,\"reason\":\"resolved\",\"data\":[{\"fingerprint\":1,\"timestamp\":1,\"content\":";
        switch (how) {
            case "500", "400" -> send(exchange, Integer.parseInt(how), "{\"error\":true,\"reason\":\"injected\",\"data\":{}}", "application/json");
            case "deep" -> send(exchange, 200, page + "[".repeat(2000) + "]".repeat(2000) + "}]}", "application/json");
            case "huge" -> send(exchange, 200, page + "\"" + "x".repeat(33 << 20) + "\"}]}", "application/json");
            default -> {
                byte[] start = page.getBytes(StandardCharsets.UTF_8), end = "\"\u00ff\"}]}".getBytes(StandardCharsets.ISO_8859_1);
                byte[] bytes = java.util.Arrays.copyOf(start, start.length + end.length);
                System.arraycopy(end, 0, bytes, start.length, end.length);
                exchange.sendResponseHeaders(200, bytes.length);
                exchange.getResponseBody().write(bytes);
            }
        }
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
                // LIMIT 1 sur le visiteur : la première créée l'emporte (ordre des lignes en base).
                Conversation found = list.stream().filter(c -> query.get("user_id").equals(c.node.path("user_id").asText()))
                        .filter(c -> !lostDetails.contains(c.id)).findFirst().orElse(null);
                if (found == null) {
                    send(exchange, 404, "{\"error\":\"Conversation not found\",\"code\":\"CONVERSATION_NOT_FOUND\"}", "application/json");
                    return;
                }
                body.set("conversation", served(found));
            } else {
                listRequests++;
                int limit, offset;
                try {
                    limit = Math.max(1, Math.min(100, Integer.parseInt(query.getOrDefault("limit", "50"))));
                    offset = Math.max(0, Integer.parseInt(query.getOrDefault("offset", "0")));
                } catch (NumberFormatException e) {
                    send(exchange, 400, "{\"error\":\"Invalid pagination\"}", "application/json");
                    return;
                }
                beforeListPage.accept(offset / limit + 1);
                if (samePage) offset = 0;
                List<Conversation> ordered = byKey();
                if ("oldest".equals(query.get("sort"))) Collections.reverse(ordered);
                shuffleTies(ordered);
                body.put("bot_hash", BOT);
                ArrayNode items = body.putArray("conversations");
                List<Conversation> slice = ordered.subList(Math.min(offset, ordered.size()), Math.min(offset + limit, ordered.size()));
                placeArmedHostile(slice);
                for (Conversation c : slice) {
                    ObjectNode summary = items.addObject();
                    if (c.node.has("id")) summary.set("id", c.node.get("id"));
                    JsonNode last = c.node.path("dialog").get(c.node.path("dialog").size() - 1);
                    summary.put("user_id", c.node.path("user_id").asText()).put("message_count", c.node.path("message_count").asInt());
                    String text = last.path("text").asText();
                    summary.putObject("last_message").put("role", last.path("role").asText())
                            .put("text", text.length() > 100 ? text.substring(0, 100) : text).put("timestamp", last.path("timestamp").asLong());
                    summary.put("page_url", c.node.path("page_url").asText()).put("user_agent", c.node.path("user_agent").asText())
                            .put("last_message_at", c.node.path("last_message_at").asText()).put("created_at", c.node.path("created_at").asText());
                    if (c.hostile != null) summary.putRawValue("hostile", new RawValue(c.hostile));
                }
                body.putObject("pagination").put("total", ordered.size()).put("limit", limit).put("offset", offset)
                        .put("has_more", offset + limit < ordered.size());
            }
        }
        send(exchange, 200, JSON.writeValueAsString(body), "application/json");
    }

    /** Sans départage dans le ORDER BY, les ex aequo reviennent dans un ordre quelconque, tiré à chaque requête. */
    private void shuffleTies(List<Conversation> ordered) {
        for (int i = 0; i < ordered.size(); ) {
            int j = i + 1;
            while (j < ordered.size() && ordered.get(j).key == ordered.get(i).key) j++;
            if (j - i > 1) Collections.shuffle(ordered.subList(i, j), tieShuffle);
            i = j;
        }
    }

    private void send(HttpExchange exchange, int status, String body, String type) throws IOException { send(exchange, status, body, type, true); }

    /** {@code mayDrip} faux quand l'appelant tient le verrou (le goutte-à-goutte ne doit bloquer personne). */
    private void send(HttpExchange exchange, int status, String body, String type, boolean mayDrip) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", type + "; charset=utf-8");
        int rate;
        synchronized (this) { rate = dripRate; }
        if (rate <= 0 || !mayDrip) {
            exchange.sendResponseHeaders(status, bytes.length);
            exchange.getResponseBody().write(bytes);
            return;
        }
        exchange.sendResponseHeaders(status, bytes.length);
        OutputStream out = exchange.getResponseBody();
        out.flush();
        int chunk = Math.max(1, rate / 10);
        long pause = Math.max(1, 1000L * chunk / rate);
        try {
            for (int at = 0; at < bytes.length && !closed; at += chunk) {
                out.write(bytes, at, Math.min(chunk, bytes.length - at));
                out.flush();
                sleep(pause);
            }
        } catch (IOException clientGone) {
            synchronized (this) { hungUp++; }
            throw clientGone;
        }
    }

    private void endless(HttpExchange exchange) throws IOException {
        exchange.getResponseHeaders().add("Content-Type", "application/json; charset=utf-8");
        exchange.sendResponseHeaders(200, 0);
        byte[] spaces = " ".repeat(1 << 16).getBytes(StandardCharsets.US_ASCII);
        OutputStream out = exchange.getResponseBody();
        try {
            out.write('{');
            while (!closed) out.write(spaces);
        } catch (IOException clientGone) {
            synchronized (this) { hungUp++; }
            throw clientGone;
        }
    }

    /** Attend (au plus 30 s) que le serveur ait vu {@code count} clients raccrocher ; vrai s'il les a vus. */
    public boolean awaitHangUps(int count) {
        for (int i = 0; i < 300; i++) {
            synchronized (this) { if (hungUp >= count) return true; }
            sleep(100);
        }
        return false;
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

    // ------------------------------------------------------------------ Crisp : les profils des contacts

    /**
     * Ce que la liste des profils fait des paramètres {@code sort_field=updated_at&sort_order=descending} (non documentés) :
     * les suivre, les ignorer (ordre par défaut : création croissante), ou les refuser (400).
     */
    public enum PeopleSort { HONOURED, IGNORED, REJECTED }

    /** Un profil du faux répertoire ; {@code updated} est sa clé de tri quand l'ordre demandé est suivi. */
    static final class Person {
        final ObjectNode node;
        final String id;
        final int serial;
        long updated;
        Person(ObjectNode node, String id, int serial, long updated) { this.node = node; this.id = id; this.serial = serial; this.updated = updated; }
    }

    private final List<Person> people = new ArrayList<>();   // dans l'ordre de création (l'ordre par défaut de la liste)
    private PeopleSort peopleSort = PeopleSort.HONOURED;
    private int personSerial;
    /** Pages de la liste des profils demandées (refusées comprises). */
    public int peopleRequests;

    /** Un faux site Crisp sans conversation, avec {@code profiles} profils anciens. */
    public static FakeServer people(int profiles) throws IOException {
        FakeServer fake = crisp(0);
        fake.addPeople(profiles, false);
        return fake;
    }

    public synchronized void peopleSort(PeopleSort mode) { peopleSort = mode; }

    /**
     * Ajoute des profils : anciens (créés et mis à jour dans le passé, une heure d'écart entre deux créations, dans
     * l'ordre de création), ou nouveaux (créés maintenant, l'horloge avançant d'une seconde à chacun). Les adresses
     * sont réalistes : un profil sur 9 sans e-mail, des majuscules, des accents, des {@code +}, et un profil sur 7
     * qui reprend l'adresse du précédent à la casse près.
     */
    public synchronized void addPeople(int count, boolean recent) {
        for (int i = 0; i < count; i++) {
            int n = ++personSerial;
            long created = recent ? (clock += 1000) : 1_700_000_000_000L + n * HOUR;
            long updated = recent ? created : created + (n % 5) * 60_000L;
            String email = emailFor(n);
            // Un profil sur 7 reprend l'adresse du précédent, à la casse près (deux personnes, deux people_id).
            if (email != null && n % 7 == 0 && !people.isEmpty() && people.get(people.size() - 1).node.hasNonNull("email"))
                email = swapCase(people.get(people.size() - 1).node.get("email").asText());
            people.add(person(n, created, updated, email));
        }
    }

    /** Un profil précis, pour les tests d'ordre ({@code email} null : sans e-mail) ; créé et mis à jour maintenant. */
    public synchronized String addPerson(String email) {
        int n = ++personSerial;
        long now = clock += 1000;
        Person p = person(n, now, now, email);
        people.add(p);
        return p.id;
    }

    /** Le profil change (une note, un segment) : {@code updated_at} = horloge. */
    public synchronized void updatePerson(String id) {
        Person p = people.stream().filter(x -> x.id.equals(id)).findFirst().orElseThrow();
        p.updated = clock += 1000;
        p.node.put("notepad", "Rappelé le " + Instant.ofEpochMilli(p.updated) + ".");
        ((ArrayNode) p.node.get("segments")).add("relance");
        p.node.put("updated_at", p.updated);
    }

    public synchronized void deletePerson(String id) { people.removeIf(p -> p.id.equals(id)); }

    /** Les {@code people_id}, dans l'ordre où la liste les sert quand le tri est suivi ({@code updated_at} décroissant, puis id). */
    public synchronized List<String> peopleIds() { return byUpdate().stream().map(p -> p.id).toList(); }

    /** Ce que l'API sert pour chaque profil (copies), par {@code people_id}. */
    public synchronized Map<String, JsonNode> peopleSnapshot() {
        Map<String, JsonNode> all = new LinkedHashMap<>();
        for (Person p : byUpdate()) all.put(p.id, p.node.deepCopy());
        return all;
    }

    private List<Person> byUpdate() {
        List<Person> ordered = new ArrayList<>(people);
        ordered.sort(Comparator.comparingLong((Person p) -> p.updated).reversed().thenComparing(p -> p.id));
        return ordered;
    }

    private static String emailFor(int n) {
        if (n % 9 == 0) return null;
        String[] names = {"alice", "Élodie", "zoé", "jean+crisp", "JEAN.DUPONT", "marc-antoine", "chloé.martin", "Bob", "émile+news", "Zacharie"};
        String[] domains = {"example.com", "Exemple.fr", "société.fr", "mail.example.org"};
        return names[n % names.length] + n + "@" + domains[n % domains.length];
    }

    private Person person(int n, long created, long updated, String email) {
        Random r = new Random(n * 7919L);
        ObjectNode node = JSON.createObjectNode();
        String id = new UUID(r.nextLong(), r.nextLong()).toString();
        node.put("people_id", id);
        if (email != null) node.put("email", email);
        ObjectNode person = node.putObject("person");
        person.put("nickname", "Contact " + n).put("avatar", "https://image.crisp.chat/avatar/people/" + n + "/240/").put("gender", n % 2 == 0 ? "female" : "male")
                .put("phone", "+33 6 " + (10 + n % 90) + " 00 00 00").put("address", n + " rue de la Paix, Paris").put("description", "").put("website", "")
                .put("timezone", -60);
        person.putArray("profiles");
        person.putObject("employment").put("title", "Acheteur").put("role", "achats");
        person.putObject("geolocation").put("country", "FR").put("city", n % 3 == 0 ? "Besançon" : "Paris");
        person.putArray("locales").add("fr");
        node.putObject("company").put("name", "Société " + n).put("domain", "example.com");
        node.putArray("segments").add(n % 2 == 0 ? "client" : "prospect");
        node.put("notepad", "");
        node.putObject("active").put("now", false).put("last", updated);
        node.put("score", r.nextInt(100));
        node.put("created_at", created);
        node.put("updated_at", updated);
        return new Person(node, id, n, updated);
    }

    private static String swapCase(String text) {
        String upper = text.toUpperCase(java.util.Locale.ROOT);
        return upper.equals(text) ? text.toLowerCase(java.util.Locale.ROOT) : upper;
    }

    /** Un profil par son people_id : 200 et le profil, ou 404. */
    private void crispPerson(HttpExchange exchange, String id) throws IOException {
        String body;
        synchronized (this) {
            detailRequests++;
            Person p = people.stream().filter(x -> x.id.equals(id)).findFirst().orElse(null);
            body = p == null ? null : JSON.writeValueAsString(JSON.createObjectNode().put("error", false).put("reason", "resolved").set("data", p.node.deepCopy()));
        }
        if (body == null) send(exchange, 404, NOT_FOUND, "application/json");
        else send(exchange, 200, body, "application/json");
    }

    private void crispPeople(HttpExchange exchange, String pageText, Map<String, String> query) throws IOException {
        int page, perPage;
        try {
            page = Integer.parseInt(pageText);
            perPage = Math.max(20, Math.min(50, Integer.parseInt(query.getOrDefault("per_page", "20"))));
        } catch (NumberFormatException e) {
            page = 0;
            perPage = 20;
        }
        if (page < 1) { send(exchange, 404, NOT_FOUND, "application/json"); return; }
        ObjectNode body = JSON.createObjectNode().put("error", false).put("reason", "resolved");
        ArrayNode data = body.putArray("data");
        boolean asked = "updated_at".equals(query.get("sort_field")) && "descending".equals(query.get("sort_order"));
        synchronized (this) {
            peopleRequests++;
            if (query.containsKey("sort_field") && peopleSort == PeopleSort.REJECTED) {
                send(exchange, 400, "{\"error\":true,\"reason\":\"invalid_data\",\"data\":{}}", "application/json", false);
                return;
            }
            beforeListPage.accept(page);
            List<Person> ordered = asked && peopleSort == PeopleSort.HONOURED ? byUpdate() : new ArrayList<>(people);
            int from = (int) Math.min(ordered.size(), (long) (page - 1) * perPage), to = Math.min(ordered.size(), from + perPage);
            for (Person p : ordered.subList(from, to)) data.add(p.node.deepCopy());
        }
        send(exchange, 200, JSON.writeValueAsString(body), "application/json");
    }

    // ------------------------------------------------------------------ une autre origine, qui note ce qu'elle reçoit

    /** Un petit serveur d'une autre origine (cible de {@link #redirectTo}) qui note les en-têtes reçus. */
    public static Recorder recorder() throws IOException { return new Recorder(); }

    public static final class Recorder implements AutoCloseable {
        private final HttpServer server;
        /** Une entrée par requête reçue : ses en-têtes (noms en minuscules). */
        public final List<Map<String, List<String>>> headers = Collections.synchronizedList(new ArrayList<>());
        public final List<String> log = Collections.synchronizedList(new ArrayList<>());

        Recorder() throws IOException {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            server.createContext("/", exchange -> {
                try (exchange) {
                    Map<String, List<String>> seen = new HashMap<>();
                    exchange.getRequestHeaders().forEach((k, v) -> seen.put(k.toLowerCase(), List.copyOf(v)));
                    headers.add(seen);
                    log.add(exchange.getRequestMethod() + " " + exchange.getRequestURI());
                    byte[] bytes = "{\"error\":false,\"reason\":\"resolved\",\"data\":[]}".getBytes(StandardCharsets.UTF_8);
                    exchange.getResponseHeaders().add("Content-Type", "application/json; charset=utf-8");
                    exchange.sendResponseHeaders(200, bytes.length);
                    exchange.getResponseBody().write(bytes);
                }
            });
            server.start();
        }

        /** L'origine, sans chemin : {@code http://localhost:port} (un autre hôte que 127.0.0.1, un autre port). */
        public String url() { return "http://localhost:" + server.getAddress().getPort(); }

        public int requests() { return headers.size(); }

        /** Vrai si une requête reçue portait {@code Authorization} ou {@code X-Auth-Token}. */
        public boolean sawCredentials() {
            synchronized (headers) {
                return headers.stream().anyMatch(h -> h.containsKey("authorization") || h.containsKey("x-auth-token"));
            }
        }

        @Override public void close() { server.stop(0); }
    }

    // ------------------------------------------------------------------ à la main

    /** Lancement à la main : {@code ./jbang fake/FakeServer.java [crisp|weba] [nombre de conversations]}, ou {@code selftest}. */
    public static void main(String[] args) throws Exception {
        if (List.of(args).contains("--help") || List.of(args).contains("-h")) { System.out.print(USAGE); return; }
        String wrong = wrongArgument(args);
        if (wrong != null) {
            System.err.println(wrong + " Voir « ./jbang fake/FakeServer.java --help ».");
            System.exit(2);
        }
        if (args.length > 0 && args[0].equalsIgnoreCase("selftest")) { SelfTest.run(); return; }
        Kind kind = args.length > 0 && args[0].equalsIgnoreCase("weba") ? Kind.WEBA : Kind.CRISP;
        int count = args.length > 1 ? Integer.parseInt(args[1]) : 500;
        FakeServer fake = new FakeServer(kind, count);
        if (kind == Kind.CRISP) fake.addPeople(count, false);   // et autant de profils de contacts (conv people)
        if (kind == Kind.WEBA) fake.rateLimit(100, 60_000);   // la limite annoncée par Weba-AI
        System.out.println("Faux serveur " + kind.name().toLowerCase() + " : " + count + " conversations sur " + fake.url());
        System.out.println("Dans un autre terminal :");
        fake.env().forEach((k, v) -> System.out.println("  export " + k + "=" + v));
        System.out.println("  ./jbang conv.java " + (kind == Kind.WEBA ? "--source weba " : "") + "--base-url " + fake.url()
                + " --output /tmp/essai.jsonl --nb 100");
        System.out.println("Réglages disponibles depuis le code (tests) : add, touch, delete, inject, always, rateLimit, quota,");
        System.out.println("  forbidden, beforeListPage, withGaps, samePageForEveryPage, redirectTo (+ recorder()), drip,");
        System.out.println("  hugeString, deepNesting ; Crisp : answer, resolve, visit, setUpdatedAt, rawUpdatedAt, setPresence,");
        System.out.println("  breakOrder, messagesFor, inclusiveTimestampBefore, messageStatusHabit, tieMessages, editMessage, failMessages,");
        System.out.println("  notFound, addHostileSession ; Weba-AI : withTies, sameVisitor,");
        System.out.println("  loseDetail ; profils : addPeople, addPerson, updatePerson, deletePerson, peopleSort. Vérification du faux serveur : ./jbang fake/FakeServer.java selftest");
        System.out.println("Ctrl-C pour arrêter.");
        Thread.currentThread().join();
    }

    static final String USAGE = """
            Usage : ./jbang fake/FakeServer.java [crisp|weba] [NOMBRE]   ou   ./jbang fake/FakeServer.java selftest
            Démarre un faux serveur Crisp (par défaut) ou Weba-AI sur 127.0.0.1, avec NOMBRE conversations (défaut : 500),
            puis affiche les variables à exporter et la commande conv à lancer dans un autre terminal ; Ctrl-C l'arrête.
              crisp | weba   le système imité
              NOMBRE         le nombre de conversations du faux compte, au moins 1
              selftest       vérifie ce que les tests de conv supposent du faux serveur, puis s'arrête
              -h, --help     affiche cette aide
            Codes de sortie : 0 arrêt normal, 1 vérification échouée, 2 argument invalide.
            """;

    /** Ce qui ne va pas dans les arguments, en une phrase ; null s'ils sont bons. */
    static String wrongArgument(String[] args) {
        for (String arg : args)
            if (arg.startsWith("-")) return "Option inconnue : " + arg + ".";
        if (args.length == 0) return null;
        String first = args[0].toLowerCase(java.util.Locale.ROOT);
        if (!List.of("crisp", "weba", "selftest").contains(first))
            return "« " + args[0] + " » n'est pas un système connu (crisp ou weba) ni selftest.";
        if (args.length > (first.equals("selftest") ? 1 : 2)) return "Argument en trop : " + args[args.length - 1] + ".";
        if (args.length == 2 && !args[1].matches("0*[1-9]\\d{0,8}"))
            return "« " + args[1] + " » n'est pas un nombre de conversations (un entier de 1 à 999 999 999).";
        return null;
    }

    // ------------------------------------------------------------------ auto-vérification

    /** Vérifie ce que les tests de conv supposent du faux serveur (lancée par {@code selftest}). */
    static final class SelfTest {
        static int checks;
        static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        static final String BASIC = "Basic " + Base64.getEncoder().encodeToString((IDENTIFIER + ":" + KEY).getBytes(StandardCharsets.UTF_8));

        static void check(boolean ok, String what) {
            if (!ok) throw new AssertionError("ÉCHEC : " + what);
            checks++;
        }

        static HttpResponse<String> get(FakeServer fake, String pathAndQuery) throws Exception {
            return HTTP.send(HttpRequest.newBuilder(URI.create(fake.url() + pathAndQuery)).header("Authorization", BASIC)
                    .header("X-Crisp-Tier", "plugin").timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
        }

        static List<JsonNode> page(FakeServer fake, int page, String extra) throws Exception {
            HttpResponse<String> r = get(fake, "/website/" + WEBSITE + "/conversations/" + page + "?per_page=20" + extra);
            check(r.statusCode() == 200 || r.statusCode() == 206, "page " + page + " : " + r.statusCode());
            List<JsonNode> out = new ArrayList<>();
            JSON.readTree(r.body()).path("data").forEach(out::add);
            return out;
        }

        static List<JsonNode> walk(FakeServer fake, String extra) throws Exception {
            List<JsonNode> all = new ArrayList<>();
            for (int p = 1; ; p++) {
                List<JsonNode> items = page(fake, p, extra);
                if (items.isEmpty()) return all;
                all.addAll(items);
            }
        }

        static void run() throws Exception {
            presence();
            orders();
            messages();
            hostile();
            weba();
            people();
            System.out.println("Faux serveur vérifié : " + checks + " contrôles réussis.");
        }

        static void presence() throws Exception {
            try (FakeServer fake = crisp(2000)) {
                List<Long> offsets = new ArrayList<>();
                int missing = 0, later = 0;
                for (JsonNode c : fake.snapshot().values()) {
                    check(c.path("created_at").asLong() <= c.path("updated_at").asLong(), "created_at <= updated_at");
                    check(c.has("active"), "active toujours là");
                    if (!c.path("active").has("last")) { missing++; continue; }
                    long d = c.path("active").path("last").asLong() - c.path("updated_at").asLong();
                    check(d != 0, "active.last jamais égal à updated_at");
                    if (d > 0) later++;
                    offsets.add(d);
                }
                Collections.sort(offsets);
                double median = offsets.get(offsets.size() / 2) / (double) DAY, p25 = offsets.get(offsets.size() / 4) / (double) HOUR;
                double p95 = offsets.get(offsets.size() * 95 / 100) / (double) DAY;
                System.out.printf("Présence - mise à jour : %d sans active.last, %.1f %% plus tard, p25 %.1f h, médiane %.1f j, p95 %.1f j, max %.1f j%n",
                        missing, 100.0 * later / offsets.size(), p25, median, p95, offsets.get(offsets.size() - 1) / (double) DAY);
                check(missing > 5 && missing < 40, "environ 1 % sans active.last");
                check(later > offsets.size() * 0.93 && later < offsets.size() * 0.99, "environ 96 % plus tard");
                check(p25 > 15 && p25 < 40, "p25 vers 26 h");
                check(median > 7 && median < 11, "médiane vers 8,8 jours");
                check(p95 > 30 && p95 < 37, "p95 vers 34 jours");
                // Même graine, mêmes données.
                try (FakeServer again = crisp(2000)) { check(again.snapshot().equals(fake.snapshot()), "données déterministes"); }
            }
        }

        static void orders() throws Exception {
            try (FakeServer fake = crisp(90)) {
                fake.add(7, true);
                List<String> ids = fake.ids();
                fake.answer(ids.get(60));
                fake.resolve(ids.get(61));
                long visitedUpdate = fake.conversation(ids.get(80)).path("updated_at").asLong(), visitedPresence = fake.clock;
                fake.visit(ids.get(80));
                check(fake.conversation(ids.get(80)).path("active").path("last").asLong() > visitedPresence, "une visite avance active.last");
                fake.touch(ids.get(85));
                List<JsonNode> byUpdate = walk(fake, "&order_date_updated=1");
                check(byUpdate.stream().map(n -> n.path("session_id").asText()).toList().equals(fake.ids()), "order_date_updated=1 == ids()");
                for (int i = 1; i < byUpdate.size(); i++)
                    check(byUpdate.get(i - 1).path("updated_at").asLong() >= byUpdate.get(i).path("updated_at").asLong(), "updated_at décroissant");
                check(fake.orderedRequests == 6, "pages ordonnées comptées : " + fake.orderedRequests);
                check(byUpdate.stream().filter(n -> n.path("session_id").asText().equals(ids.get(80))).findFirst().orElseThrow()
                        .path("updated_at").asLong() == visitedUpdate, "une visite ne change pas updated_at");
                check(fake.conversation(ids.get(80)).path("active").path("now").asBoolean(), "visite : visiteur présent");
                check(fake.ids().get(0).equals(ids.get(85)), "un message du visiteur remonte en tête");
                check(fake.ids().get(1).equals(ids.get(61)) && fake.ids().get(2).equals(ids.get(60)), "réponse et résolution remontent");
                List<JsonNode> inbox = walk(fake, "");
                check(inbox.size() == 97, "ordre par défaut complet");
                int previous = -1;
                long previousDate = Long.MAX_VALUE;
                for (JsonNode n : inbox) {
                    boolean unread = n.path("unread").path("operator").asInt() > 0;
                    int rank = switch (n.path("state").asText()) { case "pending" -> unread ? 0 : 1; case "unresolved" -> unread ? 2 : 3; default -> 4; };
                    check(rank >= previous, "groupes de la boîte dans l'ordre");
                    if (rank != previous) previousDate = Long.MAX_VALUE;
                    check(n.path("updated_at").asLong() <= previousDate, "updated_at décroissant dans un groupe");
                    previous = rank;
                    previousDate = n.path("updated_at").asLong();
                }
                check(inbox.stream().map(n -> n.path("session_id").asText()).toList().equals(fake.inboxIds()), "inboxIds()");
                check(!inbox.stream().map(n -> n.path("session_id").asText()).toList().equals(fake.ids()), "les deux ordres diffèrent");
                fake.breakOrder(true);
                check(walk(fake, "&order_date_updated=1").stream().map(n -> n.path("session_id").asText()).toList().equals(fake.inboxIds()),
                        "breakOrder : l'ordre de la boîte malgré order_date_updated");
                fake.breakOrder(false);
                // Date future, nombre hors des long.
                fake.setUpdatedAt(ids.get(50), 4_102_444_800_000L);
                check(fake.ids().get(0).equals(ids.get(50)), "date de 2100 en tête");
                fake.rawUpdatedAt(ids.get(51), "99999999999999999999999");
                HttpResponse<String> raw = get(fake, "/website/" + WEBSITE + "/conversations/1?per_page=20&order_date_updated=1");
                check(raw.body().contains("\"updated_at\":99999999999999999999999"), "nombre au-delà d'un long servi brut");
                check(fake.ids().get(0).equals(ids.get(51)), "nombre au-delà d'un long en tête");
                fake.setPresence(ids.get(52), null);
                check(!fake.conversation(ids.get(52)).path("active").has("last") && fake.conversation(ids.get(52)).has("active"), "présence retirée");
                // Même page pour tout numéro.
                fake.samePageForEveryPage(true);
                check(page(fake, 3, "&order_date_updated=1").equals(page(fake, 1, "&order_date_updated=1")), "même page pour tout numéro");
                fake.samePageForEveryPage(false);
                check(!page(fake, 3, "&order_date_updated=1").equals(page(fake, 1, "&order_date_updated=1")), "pages différentes d'habitude");
                check(get(fake, "/website/" + WEBSITE + "/conversation/" + ids.get(3)).statusCode() == 200, "fiche d'une conversation");
                // Filtre sur la date de mise à jour.
                long pivot = fake.conversation(fake.ids().get(30)).path("updated_at").asLong();
                List<JsonNode> recentOnes = walk(fake, "&order_date_updated=1&filter_date_start=" + Instant.ofEpochMilli(pivot));
                check(recentOnes.size() == 31 && recentOnes.stream().allMatch(n -> n.path("updated_at").asLong() >= pivot), "filter_date_start");
                check(get(fake, "/website/" + WEBSITE + "/conversations/1?filter_date_end=hier").statusCode() == 400, "filtre illisible : 400");
            }
        }

        static void messages() throws Exception {
            try (FakeServer fake = crisp(40)) {
                String id = fake.ids().get(5);
                fake.messagesFor(id, 333);
                List<JsonNode> kept = fake.messages(id);
                check(kept.size() == 333, "333 messages");
                check(kept.get(332).path("timestamp").asLong() == fake.conversation(id).path("updated_at").asLong(), "dernier message à updated_at");
                Set<String> types = new HashSet<>();
                for (JsonNode m : kept) {
                    types.add(m.path("type").asText());
                    check(m.path("content").isTextual() == Set.of("text", "note").contains(m.path("type").asText()), "content chaîne ou objet");
                    check(m.path("fingerprint").isNumber() && m.path("session_id").asText().equals(id), "champs des messages");
                }
                check(types.containsAll(Set.of("text", "file", "note", "event", "picker")), "types de messages : " + types);
                for (boolean inclusive : List.of(false, true)) {
                    fake.inclusiveTimestampBefore(inclusive);
                    Map<Long, JsonNode> unique = new LinkedHashMap<>();
                    int total = 0, pages = 0;
                    String next = "";
                    while (true) {
                        HttpResponse<String> r = get(fake, "/website/" + WEBSITE + "/conversation/" + id + "/messages" + next);
                        JsonNode data = JSON.readTree(r.body()).path("data");
                        pages++;
                        for (int i = 1; i < data.size(); i++)
                            check(data.get(i - 1).path("timestamp").asLong() < data.get(i).path("timestamp").asLong(), "page du plus ancien au plus récent");
                        data.forEach(m -> unique.put(m.path("fingerprint").asLong(), m));
                        total += data.size();
                        if (r.statusCode() == 200) break;
                        check(r.statusCode() == 206 && data.size() == MESSAGES_PER_PAGE, "206 sur une page pleine avec des plus anciens");
                        next = "?timestamp_before=" + data.get(0).path("timestamp").asLong();
                        check(pages < 40, "la pagination finit");
                    }
                    check(unique.size() == 333, "tous les messages une fois (" + (inclusive ? "inclusif" : "exclusif") + ")");
                    check(inclusive ? total == 333 + pages - 1 : total == 333, "recouvrement de " + (inclusive ? "1 par page" : "0") + " : " + total);
                }
                fake.inclusiveTimestampBefore(false);
                String small = fake.ids().get(9);
                int before = fake.messages(small).size();
                HttpResponse<String> one = get(fake, "/website/" + WEBSITE + "/conversation/" + small + "/messages");
                check(one.statusCode() == 200 && JSON.readTree(one.body()).path("data").size() == before, "une seule page : 200");
                fake.answer(small);
                fake.touch(small);
                List<JsonNode> now = fake.messages(small);
                check(now.size() == before + 2 && now.get(now.size() - 2).path("from").asText().equals("operator")
                        && now.get(now.size() - 1).path("from").asText().equals("user"), "answer et touch ajoutent un message");
                check(now.get(now.size() - 1).path("timestamp").asLong() == fake.conversation(small).path("updated_at").asLong(), "updated_at suit le message");
                fake.delete(small);
                HttpResponse<String> gone = get(fake, "/website/" + WEBSITE + "/conversation/" + small + "/messages");
                check(gone.statusCode() == 404 && gone.body().contains("not_found"), "conversation supprimée : 404");
                HttpResponse<String> anonymous = HTTP.send(HttpRequest.newBuilder(URI.create(fake.url() + "/website/" + WEBSITE + "/conversation/" + id + "/messages"))
                        .build(), HttpResponse.BodyHandlers.ofString());
                check(anonymous.statusCode() == 401, "messages : authentification");
                fake.forbidden(true);
                check(get(fake, "/website/" + WEBSITE + "/conversation/" + id + "/messages").statusCode() == 403, "messages : 403");
                fake.forbidden(false);
                fake.addHostileSession("session_a/b");
                check(fake.ids().contains("session_a/b"), "session hostile listée");
                check(get(fake, "/website/" + WEBSITE + "/conversation/session_a%2Fb/messages").statusCode() == 200, "session hostile servie");
                int counted = fake.messageRequests;
                get(fake, "/website/" + WEBSITE + "/conversation/" + id + "/messages");
                check(fake.messageRequests == counted + 1, "requêtes de messages comptées");
            }
        }

        static void hostile() throws Exception {
            try (FakeServer fake = crisp(30); Recorder other = recorder()) {
                fake.redirectTo(other.url());
                HttpClient following = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.ALWAYS).build();
                HttpResponse<String> r = following.send(HttpRequest.newBuilder(URI.create(fake.url() + "/website/" + WEBSITE + "/conversations/1"))
                        .header("Authorization", BASIC).header("X-Crisp-Tier", "plugin").build(), HttpResponse.BodyHandlers.ofString());
                check(fake.redirected == 1 && other.requests() == 1 && r.statusCode() == 200, "redirection suivie jusqu'à l'autre origine");
                System.out.println("Redirection : le client du JDK " + (other.sawCredentials() ? "a envoyé" : "n'a pas envoyé")
                        + " Authorization à l'autre origine.");
                HttpResponse<String> plain = get(fake, "/website/" + WEBSITE + "/conversations/1");
                check(plain.statusCode() == 302 && plain.headers().firstValue("Location").orElse("").startsWith(other.url() + "/v1/website/"), "302 et Location");
                fake.redirectTo(null);
                // Goutte-à-goutte : en-têtes tout de suite, corps lentement.
                fake.drip(20_000);
                long t0 = System.nanoTime();
                HttpResponse<java.io.InputStream> slow = HTTP.send(HttpRequest.newBuilder(URI.create(fake.url() + "/website/" + WEBSITE + "/conversations/1"))
                        .header("Authorization", BASIC).header("X-Crisp-Tier", "plugin").build(), HttpResponse.BodyHandlers.ofInputStream());
                long headers = System.nanoTime() - t0;
                byte[] body = slow.body().readAllBytes();
                long all = System.nanoTime() - t0;
                fake.drip(0);
                System.out.printf("Goutte-à-goutte : %d octets, en-têtes en %d ms, corps en %d ms%n", body.length, headers / 1_000_000, all / 1_000_000);
                check(headers < 500_000_000L && all > 1000L * body.length / 20_000 * 1_000_000L * 8 / 10, "en-têtes d'abord, corps au débit demandé");
                check(JSON.readTree(body).path("data").size() == 20, "corps complet après le goutte-à-goutte");
                // Chaîne énorme et imbrication profonde.
                fake.hugeString(25_000_000);
                check(fake.hostileId() == null, "charge armée, pas encore posée");
                String text = get(fake, "/website/" + WEBSITE + "/conversations/2?order_date_updated=1").body();
                String huge = fake.hostileId();
                check(text.length() > 25_000_000 && huge != null && text.indexOf(huge) < text.indexOf("xxxxxxxxxx"), "chaîne énorme dans la page suivante");
                check(get(fake, "/website/" + WEBSITE + "/conversations/2?order_date_updated=1").body().length() > 25_000_000, "et à la relecture");
                fake.hugeString(huge, 0);
                check(get(fake, "/website/" + WEBSITE + "/conversations/2?order_date_updated=1").body().length() < 100_000, "charge enlevée");
                fake.deepNesting(5000);
                text = get(fake, "/website/" + WEBSITE + "/conversations/1?order_date_updated=1").body();
                String deep = fake.hostileId();
                check(text.contains("[".repeat(5000) + "]".repeat(5000)) && text.contains(deep), "imbrication profonde en page 1");
                check(new ObjectMapper(JSON.getFactory().copy().setStreamReadConstraints(com.fasterxml.jackson.core.StreamReadConstraints.builder()
                        .maxNestingDepth(10_000).build())).readTree(text).path("data").size() == 20, "sinon valide");
            }
        }

        /** Profils : les trois sorts du tri demandé, des adresses réalistes, une liste qui bouge. */
        static void people() throws Exception {
            try (FakeServer fake = FakeServer.people(120)) {
                String sorted = "/website/" + WEBSITE + "/people/profiles/%d?per_page=50&sort_field=updated_at&sort_order=descending";
                List<String> served = new ArrayList<>();
                for (int p = 1; p <= 3; p++)
                    JSON.readTree(get(fake, String.format(sorted, p)).body()).path("data").forEach(n -> served.add(n.path("people_id").asText()));
                check(served.equals(fake.peopleIds()), "tri suivi : updated_at décroissant");
                List<JsonNode> all = new ArrayList<>(fake.peopleSnapshot().values());
                check(all.stream().anyMatch(n -> !n.has("email")) && all.stream().anyMatch(n -> n.path("email").asText().contains("+"))
                        && all.stream().anyMatch(n -> n.path("email").asText().matches(".*[éÉ].*")), "adresses sans e-mail, avec +, accentuées");
                Set<String> lower = new HashSet<>();
                check(all.stream().filter(n -> n.has("email")).anyMatch(n -> !lower.add(n.path("email").asText().toLowerCase(java.util.Locale.ROOT))),
                        "deux adresses qui ne diffèrent que par la casse");
                fake.peopleSort(PeopleSort.IGNORED);
                JsonNode first = JSON.readTree(get(fake, String.format(sorted, 1)).body()).path("data");
                check(first.get(0).path("created_at").asLong() < first.get(1).path("created_at").asLong(), "tri ignoré : création croissante");
                fake.peopleSort(PeopleSort.REJECTED);
                check(get(fake, String.format(sorted, 1)).statusCode() == 400, "tri refusé : 400");
                check(get(fake, "/website/" + WEBSITE + "/people/profiles/1?per_page=50").statusCode() == 200, "sans tri : servi");
                fake.peopleSort(PeopleSort.HONOURED);
                String old = fake.peopleIds().get(90);
                fake.updatePerson(old);
                fake.addPeople(1, true);
                check(fake.peopleIds().get(1).equals(old) && fake.peopleIds().size() == 121, "un profil modifié et un nouveau remontent en tête");
            }
        }

        static void weba() throws Exception {
            try (FakeServer fake = FakeServer.weba(0).withTies(10)) {
                fake.add(60, false);
                Set<List<String>> orders = new HashSet<>();
                for (int i = 0; i < 10; i++) {
                    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(fake.url() + "/conversations?bot_hash=" + BOT + "&limit=60&offset=0&sort=newest"))
                            .header("X-Auth-Token", TOKEN).build(), HttpResponse.BodyHandlers.ofString());
                    List<String> ids = new ArrayList<>();
                    JSON.readTree(r.body()).path("conversations").forEach(c -> ids.add(c.path("id").asText()));
                    check(new HashSet<>(ids).equals(new HashSet<>(fake.ids())), "ex aequo : toutes servies");
                    orders.add(ids);
                }
                check(orders.size() > 1, "ex aequo servis dans un ordre qui change");
                List<String> ids = fake.ids();
                String kept = fake.sameVisitor(ids.get(3), ids.get(40));
                String user = fake.conversation(ids.get(40)).path("user_id").asText();
                HttpResponse<String> detail = HTTP.send(HttpRequest.newBuilder(URI.create(fake.url() + "/conversations?bot_hash=" + BOT + "&user_id=" + user))
                        .header("X-Auth-Token", TOKEN).build(), HttpResponse.BodyHandlers.ofString());
                check(JSON.readTree(detail.body()).path("conversation").path("id").asText().equals(kept), "même visiteur : une seule fiche");
                String last = ids.get(ids.size() - 1);
                fake.touch(last);
                check(fake.ids().get(0).equals(last) && fake.conversation(last).path("dialog").size() == fake.conversation(last).path("message_count").asInt(),
                        "touch Weba-AI : nouveau message en tête");
            }
        }
    }
}
