///usr/bin/env jbang "$0" "$@" ; exit $?
//DESCRIPTION Exporte toutes les conversations d'un compte Crisp ou d'un bot Weba-AI dans un fichier JSONL, un peu plus à chaque exécution, sans perte ni doublon.
//JAVA 17+
//DEPS info.picocli:picocli:4.7.6
//DEPS com.fasterxml.jackson.core:jackson-databind:2.17.2
//CDS
//RUNTIME_OPTIONS -XX:+UseSerialGC -Xms16m -Xlog:disable -Xlog:all=error:stderr

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.BitSet;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

@Command(name = "conv", mixinStandardHelpOptions = true, version = "conv 1.0.0",
        subcommands = {conv.MessagesCommand.class},
        sortOptions = false, usageHelpAutoWidth = true,
        headerHeading = "", synopsisHeading = "Usage : ", descriptionHeading = "%n",
        optionListHeading = "%nOptions :%n", exitCodeListHeading = "%nCodes de sortie :%n",
        description = {
            "Exporte les conversations d'un compte Crisp (ou d'un bot Weba-AI) dans un fichier JSONL, un peu plus "
                + "à chaque exécution, sans perte ni doublon, trié par dernière activité.",
            "Variables : CRISP_IDENTIFIER_PROD, CRISP_KEY_PROD, ID_SITE_CRISP (Crisp) ; WEBA_AUTH_TOKEN, WEBA_BOT_HASH (Weba-AI)."},
        exitCodeList = {
            "0:export terminé (limite --nb atteinte ou historique complet)",
            "1:erreur inattendue (rien n'est perdu : relancez)",
            "2:option invalide",
            "3:configuration : variable manquante, fichier d'état illisible ou d'une autre source",
            "4:accès refusé par l'API (identifiants, droits, site ou bot)",
            "5:quota ou limite de débit de l'API atteint (progression enregistrée)",
            "6:API injoignable ou réponse inattendue (progression enregistrée)",
            "7:fichier : écriture impossible (disque plein, dossier en lecture seule…)",
            "8:une autre exécution utilise déjà ce fichier"})
public class conv implements Callable<Integer> {

    enum SourceKind { crisp, weba }

    @Spec CommandSpec spec;

    @Option(names = "--source", paramLabel = "crisp|weba", converter = SourceKindConverter.class,
            description = "Système à exporter (défaut : ${DEFAULT-VALUE}).", defaultValue = "crisp")
    SourceKind sourceKind;

    @Option(names = "--nb", paramLabel = "N", converter = PositiveInt.class, defaultValue = "400",
            description = "Nombre maximum de nouvelles conversations à exporter (défaut : ${DEFAULT-VALUE}).")
    int limit;

    @Option(names = "--reset", description = "Efface le fichier d'export et son état, puis repart de zéro.")
    boolean reset;

    @Option(names = "--output", paramLabel = "FICHIER",
            description = "Fichier JSONL (défaut : conversations/conversations.jsonl, ou conversations/weba-conversations.jsonl pour weba). L'état est à côté : FICHIER.state.json.")
    Path output;

    @CommandLine.Mixin ApiOptions api;

    private final Map<String, String> env;

    public conv() { this(System.getenv()); }

    conv(Map<String, String> env) { this.env = env; }

    public static void main(String[] args) {
        System.exit(commandLine(new conv()).execute(args));
    }

    /** La ligne de commande avec nos gestionnaires d'erreurs : une phrase en français, jamais de trace de pile. */
    static CommandLine commandLine(conv app) {
        return new CommandLine(app)
                .setResourceBundle(new java.util.ListResourceBundle() {
                    // Les options standard de Picocli, décrites en français.
                    protected Object[][] getContents() {
                        return new Object[][] {{"mixinStandardHelpOptions.help", "Affiche cette aide."},
                                               {"mixinStandardHelpOptions.version", "Affiche la version."}};
                    }
                })
                .setParameterExceptionHandler(conv::badUsage)
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    String message = e instanceof Failure f ? f.getMessage()
                            : "Erreur inattendue (" + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : " : " + e.getMessage())
                              + "). Rien de ce qui était exporté n'est perdu : relancez ; si cela persiste, signalez-le.";
                    cmd.getErr().println(message);
                    cmd.getErr().flush();
                    return e instanceof Failure f ? f.exit.code : Exit.BUG.code;
                });
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Progress progress = new Progress(out);
        Source source = openSource();
        try (Store store = Store.open(outputFile(), source.schema(), progress, reset)) {
            State state = store.loadState(source.kind(), source.account());
            Exporter exporter = new Exporter(source, store, progress, limit);
            Failure stop = exporter.run(state);
            store.finish();
            // Après un refus d'accès il n'y a rien à résumer : seule la phrase d'erreur compte.
            if (stop == null || stop.exit != Exit.AUTH)
                progress.summary(exporter.totals, store.count(), source.http().requests(), store.file(), exporter.historyComplete());
            if (stop != null) throw stop;
            return Exit.OK.code;
        } finally {
            out.flush();
        }
    }

    private Path outputFile() {
        if (output != null) return output;
        return exportFolder().resolve(sourceKind == SourceKind.crisp ? "conversations.jsonl" : "weba-conversations.jsonl");
    }

    /** Le dossier conversations/ du dépôt de conv qui contient le dossier courant (l'alias marche de partout), sinon ./conversations. */
    static Path exportFolder() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent())
            if (Files.isRegularFile(dir.resolve("conv.java")) && Files.isDirectory(dir.resolve("conversations")))
                return dir.resolve("conversations");
        return Path.of("conversations");
    }

    private Source openSource() {
        return switch (sourceKind) {
            case crisp -> openCrisp(api);
            case weba -> new Weba(http(95, Weba.RATE_LIMIT_ADVICE), base("https://cdn.weba-ai.com/api"),
                    required("WEBA_BOT_HASH", "le hash du bot Weba-AI"),
                    required("WEBA_AUTH_TOKEN", "le jeton d'authentification Weba-AI"));
        };
    }

    /** Crisp avec les identifiants de l'environnement et ces options d'API : sert aussi à la commande messages. */
    Crisp openCrisp(ApiOptions options) {
        return new Crisp(options.http(null, Crisp.RATE_LIMIT_ADVICE), options.base("https://api.crisp.chat/v1"),
                required("ID_SITE_CRISP", "l'identifiant du site Crisp"),
                required("CRISP_IDENTIFIER_PROD", "l'identifiant du jeton plugin Crisp"),
                required("CRISP_KEY_PROD", "la clé du jeton plugin Crisp"));
    }

    private Http http(Integer defaultRate, String rateLimitAdvice) { return api.http(defaultRate, rateLimitAdvice); }

    private String base(String byDefault) { return api.base(byDefault); }

    private String required(String name, String what) {
        String value = env.get(name);
        if (value == null || value.isBlank())
            throw new Failure(Exit.CONFIG, "La variable d'environnement " + name + " (" + what + ") est absente : définissez-la puis relancez.");
        return value.strip();
    }

    /** Une option invalide : une phrase, l'invitation à lire --help, code 2. */
    private static int badUsage(ParameterException e, String[] args) {
        String why;
        if (e instanceof CommandLine.UnmatchedArgumentException u)
            why = "Option ou argument inconnu : " + String.join(" ", u.getUnmatched()) + ".";
        else if (e instanceof CommandLine.MissingParameterException)
            why = "Une valeur manque après l'option " + optionName(e) + ".";
        else if (e.getCause() instanceof TypeConversionException t)
            why = "Valeur invalide pour " + optionName(e) + " : " + t.getMessage() + ".";
        else if (e instanceof CommandLine.OverwrittenOptionException)
            why = "L'option " + optionName(e) + " est donnée deux fois.";
        else
            why = e.getMessage();
        e.getCommandLine().getErr().println(why + " Voir « conv --help ».");
        return Exit.USAGE.code;
    }

    private static String optionName(ParameterException e) {
        CommandLine.Model.ArgSpec arg = e.getArgSpec();
        if (e instanceof CommandLine.OverwrittenOptionException o) arg = o.getOverwritten();
        if (e instanceof CommandLine.MissingParameterException m && !m.getMissing().isEmpty()) arg = m.getMissing().get(0);
        return arg instanceof CommandLine.Model.OptionSpec option ? option.longestName() : "une option";
    }

    /** Options communes aux commandes qui appellent une API : adresse, délai, rythme, attente entre essais. */
    static final class ApiOptions {
        @Option(names = "--base-url", paramLabel = "URL", converter = HttpUrl.class,
                description = "Adresse de l'API (défaut : https://api.crisp.chat/v1 ou https://cdn.weba-ai.com/api) ; sert à viser un simulateur.")
        URI baseUrl;

        @Option(names = "--timeout", paramLabel = "SECONDES", converter = PositiveInt.class, defaultValue = "30",
                description = "Délai maximal d'une réponse de l'API (défaut : ${DEFAULT-VALUE} s).")
        int timeoutSeconds;

        @Option(names = "--requests-per-minute", paramLabel = "N", converter = PositiveInt.class,
                description = "Rythme maximal des requêtes (défaut : aucun pour Crisp, 95 pour Weba-AI qui en tolère 100).")
        Integer requestsPerMinute;

        // Base des attentes entre deux essais : réduite par les tests pour ne pas attendre des secondes.
        @Option(names = "--retry-base-ms", hidden = true, defaultValue = "1000", converter = PositiveInt.class)
        int retryBaseMs;

        Http http(Integer defaultRate, String rateLimitAdvice) {
            Pacer pacer = new Pacer(requestsPerMinute != null ? requestsPerMinute : defaultRate);
            return new Http(Duration.ofSeconds(timeoutSeconds), RetryPolicy.standard(Duration.ofMillis(retryBaseMs)), pacer, rateLimitAdvice);
        }

        /** L'adresse de l'API sans barre finale. */
        String base(String byDefault) {
            String url = baseUrl != null ? baseUrl.toString() : byDefault;
            return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
        }
    }

    /** Écrire un fichier en entier sans jamais laisser un fichier à moitié écrit : temporaire privé, forcé, renommé. */
    static final class AtomicFile {
        interface Body { void write(OutputStream out) throws IOException; }

        /** Remplace {@code target} par ce qu'écrit {@code body} ; un arrêt brutal laisse l'ancien ou le nouveau. */
        static void replace(Path target, Body body) throws IOException {
            Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
            try {
                try (FileChannel channel = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                        StandardOpenOption.TRUNCATE_EXISTING), Store.PRIVATE);
                     OutputStream out = new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 16)) {
                    body.write(out);
                    out.flush();
                    channel.force(true);
                }
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                syncDirectory(target.getParent());
            } catch (IOException | RuntimeException e) {
                Files.deleteIfExists(tmp);
                throw e;
            }
        }

        /** Rend un renommage durable ; certains systèmes refusent d'ouvrir un dossier : sans gravité. */
        static void syncDirectory(Path dir) {
            try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
                channel.force(true);
            } catch (IOException ignored) { /* best effort */ }
        }
    }

    static final class PositiveInt implements ITypeConverter<Integer> {
        public Integer convert(String value) {
            try {
                int n = Integer.parseInt(value.strip());
                if (n >= 1) return n;
            } catch (NumberFormatException ignored) { /* même message que pour zéro */ }
            throw new TypeConversionException("« " + value + " » n'est pas un nombre entier supérieur ou égal à 1");
        }
    }

    static final class HttpUrl implements ITypeConverter<URI> {
        public URI convert(String value) {
            try {
                URI uri = new URI(value.strip());
                if (("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) && uri.getHost() != null) return uri;
            } catch (java.net.URISyntaxException ignored) { /* même message */ }
            throw new TypeConversionException("« " + value + " » n'est pas une adresse http:// ou https://");
        }
    }

    static final class SourceKindConverter implements ITypeConverter<SourceKind> {
        public SourceKind convert(String value) {
            try {
                return SourceKind.valueOf(value.strip().toLowerCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException("« " + value + " » n'est pas une source connue (crisp ou weba)");
            }
        }
    }

    // ------------------------------------------------------------------ issues d'une exécution

    /** Codes de sortie documentés ; ceux qui gardent la progression arrêtent proprement l'export. */
    enum Exit {
        OK(0), BUG(1), USAGE(2), CONFIG(3), AUTH(4), QUOTA(5), NETWORK(6), FILES(7), BUSY(8);
        final int code;
        Exit(int code) { this.code = code; }
        boolean stopsApiCalls() { return this == AUTH || this == QUOTA || this == NETWORK; }
    }

    /** Un arrêt expliqué à l'utilisateur : le message est une phrase française complète. */
    static final class Failure extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final Exit exit;
        Failure(Exit exit, String message) {
            super(message, null, false, false);
            this.exit = exit;
        }
    }

    // ------------------------------------------------------------------ sources

    /** Une page de la liste : ses éléments, et s'il peut y en avoir d'autres après. */
    record Page(List<JsonNode> items, boolean last, long total) { }

    /** Une API de conversations : liste paginée du plus récent au plus ancien, plus le contenu complet d'un élément. */
    sealed interface Source permits Crisp, Weba {
        String kind();
        String account();
        Schema schema();
        Http http();
        /** La page {@code number} (à partir de 1) de la liste, triée par activité décroissante. */
        Page list(int number);
        /** La conversation complète telle qu'elle sera écrite, ou vide si l'API ne la trouve plus. */
        Optional<JsonNode> full(JsonNode item);
    }

    /** Crisp REST v1 : chaque élément de la liste est déjà la conversation complète. */
    static final class Crisp implements Source {
        static final int PER_PAGE = 20;
        static final String RATE_LIMIT_ADVICE = "le quota d'un jeton plugin Crisp est journalier (5 000 requêtes par défaut) : "
                + "relancez demain, l'export reprendra là où il s'est arrêté.";
        private final Http http;
        private final String base;
        private final String websiteId;
        private final Map<String, String> headers;

        Crisp(Http http, String base, String websiteId, String identifier, String key) {
            this.http = http;
            this.base = base;
            this.websiteId = websiteId;
            String basic = Base64.getEncoder().encodeToString((identifier + ":" + key).getBytes(StandardCharsets.UTF_8));
            this.headers = Map.of("Authorization", "Basic " + basic, "X-Crisp-Tier", "plugin", "Content-Type", "application/json");
        }

        /** En-têtes d'authentification (plugin) : servent aussi à la route des messages. */
        Map<String, String> headers() { return headers; }
        String base() { return base; }
        String websiteId() { return websiteId; }

        public String kind() { return "crisp"; }
        public String account() { return websiteId; }
        public Schema schema() { return Schema.CRISP; }
        public Http http() { return http; }

        public Page list(int number) {
            URI uri = URI.create(base + "/website/" + encode(websiteId) + "/conversations/" + number + "?per_page=" + PER_PAGE);
            Http.Answer answer = http.get(uri, headers);
            // 200 et 206 sont deux succès ; la fin de l'historique est une page vide, pas un code.
            if (answer.status() >= 200 && answer.status() < 300 && answer.body().path("data").isArray()) {
                List<JsonNode> items = new ArrayList<>();
                answer.body().path("data").forEach(items::add);
                return new Page(items, items.isEmpty(), -1);
            }
            String reason = answer.body().path("reason").asText("");
            String said = " (HTTP " + answer.status() + (reason.isEmpty() ? "" : " " + reason) + ")";
            throw switch (answer.status()) {
                case 401 -> new Failure(Exit.AUTH, "Crisp refuse l'identifiant ou la clé" + said + " : vérifiez CRISP_IDENTIFIER_PROD et CRISP_KEY_PROD (jeton plugin de production).");
                case 403 -> new Failure(Exit.AUTH, "Crisp refuse l'accès" + said + " : le jeton n'a pas le droit website:conversation:sessions, ou le plugin n'est pas installé sur ce site.");
                case 404 -> new Failure(Exit.AUTH, "Crisp ne trouve pas ce site" + said + " : vérifiez ID_SITE_CRISP (et --base-url s'il est donné).");
                default -> new Failure(Exit.NETWORK, "Réponse inattendue de Crisp" + said + " : rien n'est perdu, relancez plus tard.");
            };
        }

        public Optional<JsonNode> full(JsonNode item) { return Optional.of(item); }
    }

    /** Weba-AI : la liste ne donne qu'un aperçu, le dialogue complet demande une requête par conversation. */
    static final class Weba implements Source {
        static final int PER_PAGE = 100;
        static final String RATE_LIMIT_ADVICE = "Weba-AI limite un jeton à 100 requêtes par minute et un autre programme utilise "
                + "peut-être le même jeton : relancez dans quelques minutes, l'export reprendra là où il s'est arrêté.";
        private final Http http;
        private final String base;
        private final String botHash;
        private final Map<String, String> headers;

        Weba(Http http, String base, String botHash, String token) {
            this.http = http;
            this.base = base;
            this.botHash = botHash;
            this.headers = Map.of("X-Auth-Token", token);
        }

        public String kind() { return "weba"; }
        public String account() { return botHash; }
        public Schema schema() { return Schema.WEBA; }
        public Http http() { return http; }

        // Ordre « newest » : une conversation nouvelle ou relancée remonte en tête et pousse les autres vers le bas,
        // si bien qu'un parcours par décalage peut revoir un élément (ignoré comme doublon) mais jamais en sauter un.
        // Avec « oldest », une conversation relancée partirait en fin de liste et tout ce qui la suit remonterait
        // d'un cran : l'élément sous le curseur serait sauté.
        public Page list(int number) {
            int offset = (number - 1) * PER_PAGE;
            Http.Answer answer = call("limit=" + PER_PAGE + "&offset=" + offset + "&sort=newest");
            JsonNode body = answer.body();
            if (answer.status() == 200 && body.path("conversations").isArray()) {
                List<JsonNode> items = new ArrayList<>();
                body.path("conversations").forEach(items::add);
                // Sans « has_more », une page pleine laisse supposer une suite : mieux vaut une requête de trop qu'un arrêt trop tôt.
                JsonNode hasMore = body.path("pagination").path("has_more");
                boolean more = hasMore.isBoolean() ? hasMore.asBoolean() : items.size() >= PER_PAGE;
                return new Page(items, !more || items.isEmpty(), body.path("pagination").path("total").asLong(-1));
            }
            throw refusal(answer);
        }

        public Optional<JsonNode> full(JsonNode item) {
            String userId = item.path("user_id").asText("");
            if (userId.isEmpty()) return Optional.empty();
            Http.Answer answer = call("user_id=" + encode(userId));
            JsonNode conversation = answer.body().path("conversation");
            if (answer.status() == 200 && conversation.isObject()) return Optional.of(conversation);
            if (answer.status() == 404 && "CONVERSATION_NOT_FOUND".equals(answer.body().path("code").asText())) return Optional.empty();
            throw refusal(answer);
        }

        private Http.Answer call(String query) {
            return http.get(URI.create(base + "/conversations.php?bot_hash=" + encode(botHash) + "&" + query), headers);
        }

        private static Failure refusal(Http.Answer answer) {
            String code = answer.body().path("code").asText("");
            String error = answer.body().path("error").asText("");
            String said = " (HTTP " + answer.status() + (code.isEmpty() ? "" : " " + code) + (error.isEmpty() ? "" : " : " + error) + ")";
            return switch (answer.status()) {
                case 401 -> new Failure(Exit.AUTH, "Weba-AI refuse le jeton" + said + " : il manque, est invalide ou a expiré ; renouvelez WEBA_AUTH_TOKEN.");
                case 403, 404 -> new Failure(Exit.AUTH, "Weba-AI ne trouve pas ce bot ou n'y donne pas accès" + said + " : vérifiez WEBA_BOT_HASH et que le jeton appartient au propriétaire du bot.");
                default -> new Failure(Exit.NETWORK, "Weba-AI a refusé la requête" + said + " : rien n'est perdu ; si cela persiste, signalez-le.");
            };
        }
    }

    private static String encode(String value) { return URLEncoder.encode(value, StandardCharsets.UTF_8); }

    // ------------------------------------------------------------------ HTTP : essais, attentes, rythme

    /** Combien de fois réessayer et combien attendre : croissance exponentielle, gigue, attente totale bornée. */
    record RetryPolicy(int maxRetries, Duration base, Duration cap, Duration maxTotalWait) {
        static RetryPolicy standard(Duration base) {
            // 1, 2, 4, 8, 16, 30 × base : un peu plus d'une minute en tout, assez pour une fenêtre « par minute ».
            return new RetryPolicy(6, base, base.multipliedBy(30), base.multipliedBy(300));
        }

        /** L'attente avant l'essai suivant, ou vide s'il faut abandonner. */
        Optional<Duration> delay(int retry, Duration waitedSoFar, Duration retryAfter) {
            if (retry >= maxRetries) return Optional.empty();
            Duration wait;
            if (retryAfter != null) {
                wait = retryAfter;
            } else {
                long ceiling = Math.min(cap.toMillis(), base.toMillis() << Math.min(retry, 20));
                // La gigue évite que plusieurs clients repartent ensemble.
                wait = Duration.ofMillis(ceiling / 2 + ThreadLocalRandom.current().nextLong(ceiling / 2 + 1));
            }
            return waitedSoFar.plus(wait).compareTo(maxTotalWait) > 0 ? Optional.empty() : Optional.of(wait);
        }
    }

    /** Espace les requêtes pour rester sous la limite de débit de l'API, au lieu de la heurter. */
    static final class Pacer {
        private final long intervalNanos;
        private long next = 0;

        Pacer(Integer requestsPerMinute) {
            this.intervalNanos = requestsPerMinute == null ? 0 : 60_000_000_000L / requestsPerMinute;
        }

        void await() {
            if (intervalNanos == 0) return;
            long now = System.nanoTime();
            if (next > now) sleep(Duration.ofNanos(next - now));
            next = Math.max(now, next) + intervalNanos;
        }
    }

    static void sleep(Duration duration) {
        try {
            Thread.sleep(duration.toMillis(), (int) (duration.toNanos() % 1_000_000));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failure(Exit.NETWORK, "Export interrompu pendant une attente : rien n'est perdu, relancez.");
        }
    }

    static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);

    /** Appels GET partagés par les deux sources : délais, essais répétés, rythme, compte des requêtes. */
    static final class Http {
        /** Une réponse définitive (succès ou refus) ; le corps vaut MissingNode s'il n'est pas du JSON. */
        record Answer(int status, JsonNode body) { }

        /** Ce que l'on fait d'une réponse ou d'un échec réseau : l'ensemble des cas est fermé. */
        sealed interface Outcome permits Final, RateLimited, Transient { }
        record Final(Answer answer) implements Outcome { }
        record RateLimited(int status, Duration retryAfter) implements Outcome { }
        record Transient(String why) implements Outcome { }

        private final HttpClient client;
        private final Duration timeout;
        private final RetryPolicy retry;
        private final Pacer pacer;
        private final String rateLimitAdvice;
        private int requests;

        Http(Duration timeout, RetryPolicy retry, Pacer pacer, String rateLimitAdvice) {
            this.client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
                    .followRedirects(HttpClient.Redirect.NORMAL).build();
            this.timeout = timeout;
            this.retry = retry;
            this.pacer = pacer;
            this.rateLimitAdvice = rateLimitAdvice;
        }

        int requests() { return requests; }

        Answer get(URI uri, Map<String, String> headers) {
            HttpRequest.Builder builder = HttpRequest.newBuilder(uri).timeout(timeout).GET()
                    .header("User-Agent", "conv/1.0 (export de conversations)").header("Accept", "application/json");
            headers.forEach(builder::header);
            HttpRequest request = builder.build();
            Duration waited = Duration.ZERO;
            for (int attempt = 0; ; attempt++) {
                pacer.await();
                requests++;
                Outcome outcome = send(request);
                if (outcome instanceof Final f) return f.answer();
                Duration retryAfter = outcome instanceof RateLimited r ? r.retryAfter() : null;
                Optional<Duration> wait = retry.delay(attempt, waited, retryAfter);
                if (wait.isEmpty()) throw giveUp(outcome, uri, attempt + 1);
                sleep(wait.get());
                waited = waited.plus(wait.get());
            }
        }

        private Outcome send(HttpRequest request) {
            HttpResponse<byte[]> response;
            try {
                response = client.send(request, HttpResponse.BodyHandlers.ofByteArray());
            } catch (HttpTimeoutException e) {
                return new Transient("pas de réponse dans le délai imparti");
            } catch (IOException e) {
                return new Transient("connexion impossible ou interrompue");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Failure(Exit.NETWORK, "Export interrompu : rien n'est perdu, relancez.");
            }
            int status = response.statusCode();
            if (status == 429 || status == 420) return new RateLimited(status, retryAfter(response));
            if (status >= 500) return new Transient("erreur du serveur (HTTP " + status + ")");
            JsonNode body = parse(response.body());
            // Une page HTML d'un proxy à la place d'une réponse réussie est passagère ; un refus (4xx) se lit à son code.
            if (body == null && status < 400) return new Transient("réponse illisible (pas du JSON, HTTP " + status + ")");
            return new Final(new Answer(status, body == null ? JSON.missingNode() : body));
        }

        private static JsonNode parse(byte[] body) {
            try {
                JsonNode node = JSON.readTree(body);
                return node != null && node.isObject() ? node : null;
            } catch (IOException e) {
                return null;
            }
        }

        private static Duration retryAfter(HttpResponse<?> response) {
            Optional<String> header = response.headers().firstValue("Retry-After");
            if (header.isEmpty()) return null;
            String value = header.get().strip();
            try {
                return Duration.ofSeconds(Math.max(0, Long.parseLong(value)));
            } catch (NumberFormatException notSeconds) {
                try {
                    Duration d = Duration.between(Instant.now(), ZonedDateTime.parse(value, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant());
                    return d.isNegative() ? Duration.ZERO : d;
                } catch (DateTimeParseException unreadable) {
                    return null;
                }
            }
        }

        private Failure giveUp(Outcome outcome, URI uri, int attempts) {
            String host = uri.getScheme() + "://" + uri.getAuthority();
            if (outcome instanceof RateLimited r) {
                String when = r.retryAfter() == null ? "" : " (l'API demande d'attendre jusqu'à "
                        + DateTimeFormatter.ofPattern("dd/MM HH:mm").format(ZonedDateTime.now().plus(r.retryAfter())) + ")";
                return new Failure(Exit.QUOTA, "Limite de l'API atteinte (HTTP " + r.status() + ") après " + attempts
                        + " essais" + when + " : " + rateLimitAdvice);
            }
            return new Failure(Exit.NETWORK, "L'API " + host + " ne répond pas correctement après " + attempts + " essais ("
                    + ((Transient) outcome).why() + ") : ce qui était exporté est enregistré, relancez plus tard.");
        }
    }

    // ------------------------------------------------------------------ parcours de la liste

    /**
     * Un parcours de la liste vers le bas, depuis la page {@code page}, jusqu'aux conversations d'activité
     * antérieure à {@code floor} (ou jusqu'à la fin de l'historique si floor est nul).
     */
    record Walk(Long floor, int page) { }

    /** L'état de reprise, tel qu'il est écrit dans FICHIER.state.json. */
    record State(int format, String source, String account, Long watermark, List<Walk> walks, String savedAt) {
        static State fresh(String source, String account) { return new State(1, source, account, null, List.of(), null); }
    }

    /** Les compteurs d'une exécution. */
    static final class Totals {
        int exported, alreadyPresent, withoutId, notFound;
        int ignored() { return alreadyPresent + withoutId; }
    }

    /**
     * Le cœur de l'export. La liste est triée par activité décroissante et bouge pendant qu'on la lit :
     * une conversation nouvelle ou relancée remonte en tête. D'où deux sortes de parcours, gardés dans l'état :
     * le premier descend tout l'historique ; ensuite, à chaque exécution, un parcours de tête descend depuis la
     * page 1 jusqu'au « filigrane » (l'activité la plus récente déjà vue). Ce qui remonte en tête pendant un
     * parcours a une activité plus récente que le filigrane : le parcours de tête suivant le prendra.
     */
    static final class Exporter {
        // Les pages de Crisp peuvent venir d'un cache un peu ancien : le parcours de tête descend un peu plus bas.
        static final long MARGIN_MS = 60_000;
        static final int FLUSH_EVERY = 20;

        private final Source source;
        private final Store store;
        private final Progress progress;
        private final int limit;
        final Totals totals = new Totals();
        private final Deque<Walk> walks = new ArrayDeque<>();
        private State state;
        private Long watermark;

        Exporter(Source source, Store store, Progress progress, int limit) {
            this.source = source;
            this.store = store;
            this.progress = progress;
            this.limit = limit;
        }

        /** Exporte jusqu'à la limite ou la fin ; renvoie l'arrêt de l'API qui l'a interrompu, ou null. */
        Failure run(State saved) {
            state = saved;
            watermark = saved.watermark();
            walks.addAll(saved.walks());
            progress.start(limit);
            try {
                Fetched first = fetch(1);
                long top = first.items().stream().mapToLong(l -> l.entry().key()).max().orElse(Long.MIN_VALUE);
                if (watermark == null) {
                    walks.addLast(new Walk(null, 1));
                    watermark = Math.max(top, 0);
                } else if (top > watermark) {
                    walks.addFirst(new Walk(watermark - MARGIN_MS, 1));
                    watermark = top;
                }
                save();
                while (!walks.isEmpty() && totals.exported < limit) {
                    Walk walk = walks.peekFirst();
                    Fetched reuse = walk.page() == 1 ? first : null;
                    first = null;
                    follow(walk, reuse);
                }
                return null;
            } catch (Failure f) {
                if (f.exit.stopsApiCalls()) return f;
                throw f;
            }
        }

        boolean historyComplete() { return walks.isEmpty(); }

        private void follow(Walk walk, Fetched reuse) {
            for (int number = walk.page(); ; number++) {
                Fetched fetched = reuse != null ? reuse : fetch(number);
                reuse = null;
                Page page = fetched.page();
                List<Listed> items = fetched.items();
                List<byte[]> batch = new ArrayList<>();
                boolean stoppedInside = false;
                for (Listed item : items) {
                    if (totals.exported >= limit) { stoppedInside = true; break; }
                    take(item, batch);
                    // Une page Weba-AI coûte 100 requêtes, plus d'une minute : on écrit par paquets pour qu'un arrêt
                    // n'en perde pas le travail. L'état désigne cette page ou une précédente : la reprise ignorera ces lignes.
                    if (batch.size() >= FLUSH_EVERY) {
                        store.append(batch);
                        batch.clear();
                    }
                    progress.during(number, totals, store.count(), page.total(), source.http().requests());
                }
                store.append(batch);
                progress.page(number, totals, store.count(), page.total(), source.http().requests());
                walks.removeFirst();
                boolean ended = !stoppedInside && (page.last()
                        || walk.floor() != null && minActivity(items) < walk.floor());
                // La reprise relit la page en cours : le reste d'une page entamée, et ce qu'une suppression
                // en amont aurait fait remonter, ne sont pas perdus.
                if (!ended) walks.addFirst(new Walk(walk.floor(), number));
                save();
                if (ended || totals.exported >= limit) return;
            }
        }

        private void take(Listed item, List<byte[]> batch) {
            String id = item.entry().id();
            if (id == null) { totals.withoutId++; return; }
            if (store.contains(id)) { totals.alreadyPresent++; return; }
            // Chez Crisp l'élément de liste est la conversation complète : ses octets servent tels quels.
            byte[] line = source.full(item.node()).map(full -> full == item.node() ? item.bytes() : Schema.bytes(full)).orElse(null);
            // Une fiche à part (Weba-AI) sans le même identifiant ne pourrait pas être reconnue ensuite : on ne l'écrit pas.
            if (line == null || line != item.bytes() && !id.equals(source.schema().read(line, 0, line.length).id())) {
                totals.notFound++;
                return;
            }
            batch.add(line);
            store.remember(id);
            totals.exported++;
        }

        /** Un élément de la liste, sérialisé et lu une seule fois. */
        record Listed(JsonNode node, byte[] bytes, Entry entry) { }

        /** Une page reçue, avec ses éléments déjà lus. */
        record Fetched(Page page, List<Listed> items) { }

        private Fetched fetch(int number) {
            Page page = source.list(number);
            List<Listed> items = new ArrayList<>(page.items().size());
            for (JsonNode node : page.items()) {
                byte[] bytes = Schema.bytes(node);
                Entry entry = source.schema().read(bytes, 0, bytes.length);
                items.add(new Listed(node, bytes, entry != null ? entry : new Entry(null, Long.MIN_VALUE)));
            }
            return new Fetched(page, items);
        }

        private static long minActivity(List<Listed> items) {
            return items.stream().mapToLong(l -> l.entry().key()).filter(a -> a != Long.MIN_VALUE).min().orElse(Long.MAX_VALUE);
        }

        private void save() {
            state = new State(1, state.source(), state.account(), watermark, List.copyOf(walks), Instant.now().toString());
            store.saveState(state);
        }
    }

    // ------------------------------------------------------------------ format des lignes

    /** Identité et date d'activité d'une conversation, lues dans une ligne ou un élément de la liste. */
    record Entry(String id, long key) {
        static final Comparator<Entry> ORDER = (a, b) -> compare(a.key, a::id, b.key, b::id);

        /**
         * Ordre du fichier : activité la plus récente d'abord, sans activité à la fin, puis par identifiant
         * (lu seulement en cas d'égalité, ce qui évite de relire les lignes pendant la fusion).
         */
        static int compare(long keyA, java.util.function.Supplier<String> idA, long keyB, java.util.function.Supplier<String> idB) {
            int byKey = Long.compare(keyB, keyA);
            return byKey != 0 ? byKey : idA.get().compareTo(idB.get());
        }
    }

    /** Où trouver l'identifiant et la date d'activité dans une conversation. */
    record Schema(String idField, String keyObject, String keyField, boolean isoDate) {
        static final Schema CRISP = new Schema("session_id", "active", "last", false);
        static final Schema WEBA = new Schema("id", null, "last_message_at", true);
        // Sans table de noms partagée : des clés uniques par conversation (identifiants d'opérateurs, données
        // personnalisées) la feraient grossir sans fin et ralentiraient la lecture d'un facteur cinq.
        private static final JsonFactory FACTORY = JsonFactory.builder().disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES).build();

        static byte[] bytes(JsonNode node) {
            try {
                return JSON.writeValueAsBytes(node);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }

        /**
         * Lit une ligne en flux, sans construire d'arbre, et la valide en entier ; null si ce n'est pas
         * un objet JSON. Un objet sans identifiant donne une entrée dont l'id est nul.
         */
        Entry read(byte[] buf, int off, int len) {
            try (JsonParser p = FACTORY.createParser(buf, off, len)) {
                if (p.nextToken() != JsonToken.START_OBJECT) return null;
                String id = null;
                long key = Long.MIN_VALUE;
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    JsonToken value = p.nextToken();
                    if (name.equals(idField) && (value == JsonToken.VALUE_STRING || value == JsonToken.VALUE_NUMBER_INT)) {
                        id = p.getText().isEmpty() ? null : p.getText();
                    } else if (keyObject == null && name.equals(keyField)) {
                        key = keyOf(p, value);
                    } else if (keyObject != null && name.equals(keyObject) && value == JsonToken.START_OBJECT) {
                        while (p.nextToken() == JsonToken.FIELD_NAME) {
                            String inner = p.currentName();
                            JsonToken v = p.nextToken();
                            if (inner.equals(keyField)) key = keyOf(p, v);
                            else p.skipChildren();
                        }
                    } else {
                        p.skipChildren();
                    }
                }
                if (p.currentToken() != JsonToken.END_OBJECT || p.nextToken() != null) return null;
                return new Entry(id, key);
            } catch (IOException e) {
                return null;
            }
        }

        private long keyOf(JsonParser p, JsonToken value) throws IOException {
            if (!isoDate && value == JsonToken.VALUE_NUMBER_INT) return p.getLongValue();
            if (!isoDate && value == JsonToken.VALUE_NUMBER_FLOAT) return (long) p.getDoubleValue();
            if (isoDate && value == JsonToken.VALUE_STRING) {
                try {
                    return OffsetDateTime.parse(p.getText()).toInstant().toEpochMilli();
                } catch (DateTimeParseException e) {
                    try {
                        // « 2025-01-09 14:00:00 », tel qu'une base MySQL le rend parfois : lu comme UTC.
                        return java.time.LocalDateTime.parse(p.getText().replace(' ', 'T')).atZone(ZoneId.of("UTC")).toInstant().toEpochMilli();
                    } catch (DateTimeParseException unreadable) {
                        return Long.MIN_VALUE;
                    }
                }
            }
            p.skipChildren();
            return Long.MIN_VALUE;
        }
    }

    // ------------------------------------------------------------------ le fichier et son état

    /**
     * Le fichier JSONL, son état et son verrou. Au démarrage, une seule lecture en flux du fichier répare une
     * dernière ligne déchirée, met de côté les lignes illisibles, et garde en mémoire les empreintes des
     * identifiants et les clés de tri, rien de plus. Les nouvelles lignes sont ajoutées à la fin au fil des pages ;
     * à la fin, une fusion en flux réécrit le fichier trié, une seule fois, par fichier temporaire renommé.
     */
    static final class Store implements AutoCloseable {
        static final FileAttribute<?>[] PRIVATE = privateFiles();
        // Taille d'un morceau trié en mémoire avant d'être écrit à part (abaissée par les tests).
        static long chunkBytes = 16L << 20;

        private final Path file, stateFile, rejectedFile, tmpFile, sortDir, indexFile;
        private final Schema schema;
        private final Progress progress;
        private final FileChannel lockChannel;
        private IdSet ids = new IdSet();
        private LongList keys = new LongList();          // clé de tri de chaque ligne lue au démarrage
        private final BitSet dropped = new BitSet();     // lignes à ne pas recopier (illisibles, doublons, vides)
        private long sortedLines;                        // les lignes [0, sortedLines) sont dans l'ordre
        private long sortedBytes;                        // … et leur taille en octets
        private long scannedLines;
        private boolean appended;
        private boolean indexed;                         // clés et identifiants lus dans l'index, pas dans le fichier
        private FileChannel appendChannel;

        private Store(Path file, Schema schema, Progress progress, FileChannel lockChannel) {
            this.file = file;
            this.stateFile = sibling(file, ".state.json");
            this.rejectedFile = sibling(file, ".rejected");
            this.tmpFile = sibling(file, ".tmp");
            this.sortDir = sibling(file, ".sort");
            this.indexFile = sibling(file, ".index");
            this.schema = schema;
            this.progress = progress;
            this.lockChannel = lockChannel;
        }

        static Path sibling(Path file, String suffix) { return file.resolveSibling(file.getFileName() + suffix); }

        /** Verrouille, efface au besoin (--reset), répare et lit le fichier. */
        static Store open(Path file, Schema schema, Progress progress, boolean reset) {
            file = file.toAbsolutePath().normalize();
            Path lock = sibling(file, ".lock");
            FileChannel channel = null;
            try {
                Files.createDirectories(file.getParent());
                channel = FileChannel.open(lock, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE), PRIVATE);
                FileLock held;
                try {
                    held = channel.tryLock();
                } catch (OverlappingFileLockException e) {
                    held = null;
                }
                if (held == null) {
                    channel.close();
                    throw new Failure(Exit.BUSY, "Une autre exécution de conv utilise déjà " + file.getFileName()
                            + " : attendez qu'elle se termine (ou arrêtez-la), puis relancez.");
                }
                Store store = new Store(file, schema, progress, channel);
                if (reset) store.erase();
                store.load();
                return store;
            } catch (IOException e) {
                closeQuietly(channel);
                throw fileFailure("préparer " + file, e);
            } catch (RuntimeException e) {
                closeQuietly(channel);
                throw e;
            }
        }

        Path file() { return file; }
        long count() { return ids.size(); }
        boolean indexed() { return indexed; }
        boolean contains(String id) { return ids.contains(id); }
        void remember(String id) { ids.add(id); }

        /** --reset : efface l'export et son état, comme avant la toute première exécution (sans les lire). */
        private void erase() throws IOException {
            Files.deleteIfExists(file);
            Files.deleteIfExists(stateFile);
            Files.deleteIfExists(indexFile);
            progress.note("--reset : fichier d'export et état effacés.");
        }

        State loadState(String source, String account) {
            if (!Files.exists(stateFile)) {
                if (scannedLines > 0 && ids.size() == 0)
                    throw new Failure(Exit.CONFIG, file + " ne contient aucune conversation " + source
                            + " reconnaissable : ce n'est sans doute pas un export de cette source. Choisissez un autre fichier avec --output.");
                return State.fresh(source, account);
            }
            State state;
            try {
                state = JSON.readValue(stateFile.toFile(), State.class);
            } catch (IOException e) {
                throw new Failure(Exit.CONFIG, "Le fichier d'état " + stateFile + " est illisible : supprimez-le pour repartir de la page 1 "
                        + "(aucun doublon ne sera créé, les conversations déjà exportées seront reconnues).");
            }
            if (!source.equals(state.source()) || !account.equals(state.account()))
                throw new Failure(Exit.CONFIG, file + " contient l'export d'une autre source ou d'un autre compte ("
                        + state.source() + ") : choisissez un autre fichier avec --output, ou repartez de zéro avec --reset.");
            return new State(state.format(), state.source(), state.account(), state.watermark(),
                    state.walks() == null ? List.of() : state.walks(), state.savedAt());
        }

        /** État écrit à part puis renommé : un arrêt brutal laisse l'ancien ou le nouveau, jamais un mélange. */
        void saveState(State state) {
            try {
                byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(state);
                AtomicFile.replace(stateFile, out -> out.write(bytes));
            } catch (IOException e) {
                throw fileFailure("enregistrer l'état " + stateFile, e);
            }
        }

        /** Ajoute les lignes d'une page et les force sur le disque avant que l'état ne s'y réfère. */
        void append(List<byte[]> lines) {
            if (lines.isEmpty()) return;
            long before = -1;
            try {
                if (appendChannel == null)
                    appendChannel = FileChannel.open(file, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE), PRIVATE);
                before = appendChannel.size();
                appendChannel.position(before);
                int size = lines.stream().mapToInt(l -> l.length + 1).sum();
                ByteBuffer buffer = ByteBuffer.allocate(size);
                for (byte[] line : lines) buffer.put(line).put((byte) '\n');
                buffer.flip();
                while (buffer.hasRemaining()) appendChannel.write(buffer);
                appendChannel.force(false);
                appended = true;
            } catch (IOException e) {
                // Pas de ligne à moitié écrite : on revient à la taille d'avant cette page.
                try {
                    if (before >= 0) appendChannel.truncate(before);
                } catch (IOException ignored) { /* la prochaine exécution réparera la fin du fichier */ }
                throw fileFailure("écrire dans " + file, e);
            }
        }

        /** Réécrit le fichier trié, sans doublon ni ligne illisible, si et seulement si c'est nécessaire. */
        void finish() {
            boolean clean = sortedLines == scannedLines && !appended && dropped.isEmpty();
            try {
                closeQuietly(appendChannel);
                appendChannel = null;
                if (!Files.exists(file)) return;
                if (clean) {
                    if (!indexed) Index.save(this, keys);
                    return;
                }
                Index.save(this, new Merge().run());
            } catch (IOException e) {
                deleteQuietly(tmpFile);
                throw fileFailure("trier " + file + " (les conversations exportées y sont déjà, le tri sera refait à la prochaine exécution)", e);
            } finally {
                deleteTree(sortDir);
            }
        }

        @Override
        public void close() {
            closeQuietly(appendChannel);
            closeQuietly(lockChannel);
        }

        // ---- démarrage : réparation et lecture du fichier

        private void load() throws IOException {
            deleteQuietly(tmpFile);
            deleteQuietly(sibling(stateFile, ".tmp"));
            deleteQuietly(sibling(indexFile, ".tmp"));
            deleteTree(sortDir);
            if (!Files.exists(file)) return;
            if (Index.load(this)) return;
            repairTail();
            String previousId = null;
            long previousKey = 0;
            sortedLines = -1;
            List<Long> rejected = new ArrayList<>();
            try (InputStream in = Files.newInputStream(file); OutputStream aside = new LazyOutput(rejectedFile)) {
                LineReader lines = new LineReader(in);
                while (lines.next()) {
                    long index = scannedLines++;
                    Entry entry = lines.length() == 0 ? null : schema.read(lines.buffer(), lines.start(), lines.length());
                    boolean blank = lines.isBlank();
                    if (entry == null || entry.id() == null || !ids.add(entry.id())) {
                        dropped.set((int) index);
                        keys.add(0);
                        if (!blank && (entry == null || entry.id() == null)) {
                            aside.write(lines.buffer(), lines.start(), lines.length());
                            aside.write('\n');
                            rejected.add(index + 1);
                        }
                        continue;
                    }
                    keys.add(entry.key());
                    if (sortedLines < 0 && previousId != null
                            && Entry.ORDER.compare(new Entry(previousId, previousKey), entry) > 0) {
                        sortedLines = index;
                        sortedBytes = lines.offset();
                    }
                    previousId = entry.id();
                    previousKey = entry.key();
                }
            }
            if (sortedLines < 0) { sortedLines = scannedLines; sortedBytes = Files.size(file); }
            long duplicates = dropped.cardinality() - rejected.size();
            if (!rejected.isEmpty())
                progress.note("Attention : " + rejected.size() + " ligne(s) illisible(s) dans " + file.getFileName() + " (ligne(s) "
                        + abbreviate(rejected) + ") : mise(s) de côté dans " + rejectedFile.getFileName() + ", rien n'est supprimé.");
            if (duplicates > 0)
                progress.note(duplicates + " ligne(s) vide(s) ou en double retirée(s) de " + file.getFileName() + " (la première occurrence est gardée).");
            if (sortedLines < scannedLines)
                progress.note(file.getFileName() + " n'est pas entièrement trié (exécution interrompue ou modification à la main) : il le sera à la fin.");
        }

        /** Une ligne sans fin de ligne est le reste d'une écriture interrompue : on la retire, sauf si elle est complète. */
        private void repairTail() throws IOException {
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                long size = channel.size();
                if (size == 0 || lastByte(channel, size - 1) == '\n') return;
                long start = size - 1;
                while (start > 0 && lastByte(channel, start - 1) != '\n') start--;
                byte[] fragment = new byte[(int) Math.min(size - start, Integer.MAX_VALUE)];
                channel.read(ByteBuffer.wrap(fragment), start);
                Entry entry = schema.read(fragment, 0, fragment.length);
                if (entry != null && entry.id() != null) {
                    channel.write(ByteBuffer.wrap(new byte[] {'\n'}), size);
                } else {
                    channel.truncate(start);
                    progress.note("Dernière ligne incomplète (" + (size - start) + " octets, reste d'une exécution interrompue) retirée de "
                            + file.getFileName() + " ; la conversation sera exportée à nouveau.");
                }
                channel.force(true);
            }
        }

        private static byte lastByte(FileChannel channel, long position) throws IOException {
            ByteBuffer one = ByteBuffer.allocate(1);
            channel.read(one, position);
            return one.get(0);
        }

        private static String abbreviate(List<Long> numbers) {
            String shown = numbers.stream().limit(10).map(String::valueOf).reduce((a, b) -> a + ", " + b).orElse("");
            return numbers.size() > 10 ? shown + "…" : shown;
        }

        // ---- fin : fusion en flux

        /**
         * La partie déjà triée du fichier est recopiée octet par octet, ses clés venant de la lecture du démarrage ;
         * le reste (les ajouts de cette exécution, ou tout le fichier s'il a été dérangé) est trié par morceaux
         * de taille bornée, écrits à part si besoin, puis tout est fusionné en une passe.
         */
        private final class Merge {
            /** Fusionne, remplace le fichier et renvoie les clés de ses lignes, dans l'ordre. */
            LongList run() throws IOException {
                List<Cursor> cursors = new ArrayList<>();
                LongList written;
                try (FileChannel source = FileChannel.open(file, StandardOpenOption.READ)) {
                    cursors.add(new PrefixCursor(source));
                    sortTail(cursors);
                    written = writeMerged(cursors);
                } finally {
                    for (Cursor c : cursors) c.close();
                }
                Files.move(tmpFile, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                syncDirectory();
                return written;
            }

            private void sortTail(List<Cursor> cursors) throws IOException {
                List<Line> chunk = new ArrayList<>();
                long held = 0;
                int spilled = 0;
                try (FileChannel tail = FileChannel.open(file, StandardOpenOption.READ)) {
                    LineReader lines = new LineReader(Channels.newInputStream(tail.position(sortedBytes)));
                    long index = sortedLines;
                    while (lines.next()) {
                        long current = index++;
                        if (current < scannedLines && dropped.get((int) current) || lines.isBlank()) continue;
                        Line line = Line.of(schema, Arrays.copyOfRange(lines.buffer(), lines.start(), lines.start() + lines.length()));
                        if (line == null) continue;
                        chunk.add(line);
                        held += line.bytes().length + 64;
                        if (held > chunkBytes) {
                            cursors.add(spill(chunk, spilled++));
                            chunk = new ArrayList<>();
                            held = 0;
                        }
                    }
                }
                chunk.sort(Line.ORDER);
                cursors.add(new ListCursor(chunk));
            }

            private Cursor spill(List<Line> chunk, int number) throws IOException {
                chunk.sort(Line.ORDER);
                Files.createDirectories(sortDir);
                Path part = sortDir.resolve("part-" + number);
                try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(Files.createFile(part, PRIVATE)), 1 << 16)) {
                    for (Line line : chunk) { out.write(line.bytes()); out.write('\n'); }
                }
                return new FileCursor(new LineReader(Files.newInputStream(part)), schema);
            }

            private LongList writeMerged(List<Cursor> cursors) throws IOException {
                PriorityQueue<Cursor> heads = new PriorityQueue<>((a, b) -> Line.ORDER.compare(a.head(), b.head()));
                for (Cursor c : cursors) if (c.advance()) heads.add(c);
                LongList written = new LongList();
                try (FileChannel channel = FileChannel.open(tmpFile, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), PRIVATE);
                     OutputStream out = new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 20)) {
                    while (!heads.isEmpty()) {
                        // Quand il ne reste que la partie déjà triée, elle est recopiée d'un bloc par le noyau.
                        if (heads.size() == 1 && heads.peek() instanceof PrefixCursor rest && rest.copyRest(out, channel, written)) break;
                        Cursor c = heads.poll();
                        c.writeHead(out);
                        written.add(c.head().key);
                        if (c.advance()) heads.add(c);
                    }
                    out.flush();
                    channel.force(true);
                }
                return written;
            }

            /** La partie triée du fichier : clés déjà connues, identifiant relu seulement en cas d'égalité de clé. */
            private final class PrefixCursor implements Cursor {
                private final FileChannel source;
                private final LineReader lines;
                private long index = -1;
                private Line head;

                PrefixCursor(FileChannel source) throws IOException {
                    this.source = source;
                    this.lines = new LineReader(Channels.newInputStream(source.position(0)), sortedBytes);
                }

                /** Recopie d'un bloc la ligne courante et toutes les suivantes, s'il n'y en a aucune à retirer. */
                boolean copyRest(OutputStream out, FileChannel target, LongList written) throws IOException {
                    int nextDropped = dropped.nextSetBit((int) index);
                    if (nextDropped >= 0 && nextDropped < sortedLines) return false;
                    out.flush();
                    for (long from = lines.offset(); from < sortedBytes; ) from += source.transferTo(from, sortedBytes - from, target);
                    for (long i = index; i < sortedLines; i++) written.add(keys.get(i));
                    return true;
                }
                public boolean advance() throws IOException {
                    while (lines.next()) {
                        index++;
                        if (dropped.get((int) index)) continue;
                        head = new Line(keys.get(index), lines, schema);
                        return true;
                    }
                    return false;
                }
                public Line head() { return head; }
                public void writeHead(OutputStream out) throws IOException {
                    out.write(lines.buffer(), lines.start(), lines.length());
                    out.write('\n');
                }
                public void close() { }
            }
        }

        /**
         * Un index à côté du fichier trié (FICHIER.index) : ses clés de tri et la table des empreintes, avec la
         * taille et la date de modification du fichier qu'il décrit. Tant qu'elles n'ont pas changé, le démarrage
         * lit ces quelques octets par conversation au lieu de relire tout le fichier ; sinon (ajouts interrompus,
         * modification à la main), l'index est ignoré et le fichier relu entièrement.
         */
        static final class Index {
            private static final long MAGIC = 0x434F4E5649445831L; // « CONVIDX1 »

            static boolean load(Store store) {
                if (!Files.exists(store.indexFile)) return false;
                try (FileChannel in = FileChannel.open(store.indexFile, StandardOpenOption.READ)) {
                    long[] head = readLongs(in, 6);
                    if (head[0] != MAGIC || head[1] != Files.size(store.file) || head[2] != modified(store.file)) return false;
                    long lines = head[3];
                    store.keys = new LongList(readLongs(in, lines));
                    store.ids = new IdSet(readLongs(in, head[4]), readLongs(in, head[4]), (int) head[5]);
                    store.scannedLines = store.sortedLines = lines;
                    store.sortedBytes = head[1];
                    store.indexed = true;
                    return true;
                } catch (IOException | RuntimeException unusable) {
                    return false;   // index abîmé : on relit le fichier, qui fait foi
                }
            }

            /** Écrit l'index du fichier tel qu'il est maintenant ; un échec ne coûte que la relecture suivante. */
            static void save(Store store, LongList keys) {
                try {
                    long[] head = {MAGIC, Files.size(store.file), modified(store.file), keys.size(), store.ids.capacity(), store.ids.size()};
                    AtomicFile.replace(store.indexFile, out -> {
                        writeLongs(out, head, head.length);
                        writeLongs(out, keys.values(), keys.size());
                        writeLongs(out, store.ids.high, store.ids.capacity());
                        writeLongs(out, store.ids.low, store.ids.capacity());
                    });
                } catch (IOException e) {
                    deleteQuietly(store.indexFile);
                }
            }

            private static long modified(Path file) throws IOException {
                Instant t = Files.getLastModifiedTime(file).toInstant();
                return t.getEpochSecond() * 1_000_000_000L + t.getNano();
            }

            private static long[] readLongs(FileChannel in, long count) throws IOException {
                long[] values = new long[Math.toIntExact(count)];
                ByteBuffer buffer = ByteBuffer.allocate(1 << 16);
                for (int done = 0; done < values.length; ) {
                    buffer.clear().limit((int) Math.min(buffer.capacity(), (values.length - done) * 8L));
                    while (buffer.hasRemaining()) if (in.read(buffer) < 0) throw new IOException("index tronqué");
                    buffer.flip();
                    int n = buffer.remaining() / 8;
                    buffer.asLongBuffer().get(values, done, n);
                    done += n;
                }
                return values;
            }

            private static void writeLongs(OutputStream out, long[] values, long count) throws IOException {
                ByteBuffer buffer = ByteBuffer.allocate(1 << 16);
                for (int done = 0; done < count; ) {
                    int n = (int) Math.min(buffer.capacity() / 8, count - done);
                    buffer.clear();
                    buffer.asLongBuffer().put(values, done, n);
                    out.write(buffer.array(), 0, n * 8);
                    done += n;
                }
            }
        }

        // ---- petits utilitaires de fichiers

        private void syncDirectory() { AtomicFile.syncDirectory(file.getParent()); }

        private static FileAttribute<?>[] privateFiles() {
            boolean posix = java.nio.file.FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
            return posix ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))}
                         : new FileAttribute<?>[0];
        }

        static Failure fileFailure(String action, IOException e) {
            String reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            if (e instanceof AccessDeniedException) reason = "permission refusée";
            else if (e instanceof NoSuchFileException) reason = "chemin introuvable";
            else if (e instanceof FileSystemException f && f.getReason() != null) reason = f.getReason();
            if (reason.contains("No space left")) reason = "disque plein";
            else if (reason.contains("File too large")) reason = "taille maximale de fichier atteinte";
            else if (reason.contains("Read-only file system")) reason = "système de fichiers en lecture seule";
            else if (reason.contains("Permission denied")) reason = "permission refusée";
            return new Failure(Exit.FILES, "Impossible de " + action + " (" + reason + ") : le fichier d'export précédent est intact ; "
                    + "libérez de la place ou corrigez les droits, puis relancez.");
        }

        private static void closeQuietly(AutoCloseable c) {
            try {
                if (c != null) c.close();
            } catch (Exception ignored) { /* fermeture après erreur */ }
        }

        private static void deleteQuietly(Path p) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) { /* restera pour la prochaine exécution */ }
        }

        private static void deleteTree(Path dir) {
            if (!Files.isDirectory(dir)) return;
            try (var entries = Files.list(dir)) {
                entries.forEach(Store::deleteQuietly);
            } catch (IOException ignored) { /* idem */ }
            deleteQuietly(dir);
        }
    }

    /** Une ligne à fusionner : sa clé, son identifiant (lu à la demande) et ses octets. */
    static final class Line {
        static final Comparator<Line> ORDER = (a, b) -> Entry.compare(a.key, a::id, b.key, b::id);
        private final long key;
        private String id;
        private final byte[] bytes;
        private final LineReader source;
        private final Schema schema;

        /** Une ligne encore dans le tampon de lecture : son identifiant n'est lu qu'au besoin. */
        Line(long key, LineReader source, Schema schema) {
            this.key = key;
            this.bytes = null;
            this.source = source;
            this.schema = schema;
        }

        private Line(Entry entry, byte[] bytes) {
            this.key = entry.key();
            this.id = entry.id();
            this.bytes = bytes;
            this.source = null;
            this.schema = null;
        }

        static Line of(Schema schema, byte[] bytes) {
            Entry entry = schema.read(bytes, 0, bytes.length);
            return entry == null || entry.id() == null ? null : new Line(entry, bytes);
        }

        byte[] bytes() { return bytes; }

        String id() {
            if (id == null) id = schema.read(source.buffer(), source.start(), source.length()).id();
            return id;
        }
    }

    /** Une suite triée de lignes pour la fusion. */
    interface Cursor extends AutoCloseable {
        boolean advance() throws IOException;
        Line head();
        void writeHead(OutputStream out) throws IOException;
        void close() throws IOException;
    }

    static final class ListCursor implements Cursor {
        private final List<Line> lines;
        private int next;
        ListCursor(List<Line> lines) { this.lines = lines; }
        public boolean advance() { return next++ < lines.size(); }
        public Line head() { return lines.get(next - 1); }
        public void writeHead(OutputStream out) throws IOException { out.write(head().bytes()); out.write('\n'); }
        public void close() { }
    }

    static final class FileCursor implements Cursor {
        private final LineReader lines;
        private final Schema schema;
        private Line head;
        FileCursor(LineReader lines, Schema schema) { this.lines = lines; this.schema = schema; }
        public boolean advance() throws IOException {
            if (!lines.next()) return false;
            head = Line.of(schema, Arrays.copyOfRange(lines.buffer(), lines.start(), lines.start() + lines.length()));
            return true;
        }
        public Line head() { return head; }
        public void writeHead(OutputStream out) throws IOException { out.write(head.bytes()); out.write('\n'); }
        public void close() throws IOException { lines.close(); }
    }

    /** Lecture ligne à ligne en octets, avec un tampon qui grandit pour les très longues lignes. */
    static final class LineReader implements AutoCloseable {
        private final InputStream in;
        private long remaining;
        private byte[] buffer = new byte[1 << 20];
        private int start, length;      // la ligne courante, sans son '\n'
        private int next, end;          // début de la ligne suivante, fin des octets lus
        private long offset, nextOffset;
        private boolean eof;

        LineReader(InputStream in) { this(in, Long.MAX_VALUE); }

        /** Ne lit que les {@code limit} premiers octets du flux. */
        LineReader(InputStream in, long limit) {
            this.in = in;
            this.remaining = limit;
        }

        byte[] buffer() { return buffer; }
        int start() { return start; }
        int length() { return length; }
        /** Position dans le flux du début de la ligne courante. */
        long offset() { return offset; }

        boolean isBlank() {
            for (int i = start; i < start + length; i++) if (buffer[i] > ' ') return false;
            return true;
        }

        boolean next() throws IOException {
            int scan = next;
            while (true) {
                while (scan < end && buffer[scan] != '\n') scan++;
                if (scan < end || eof && next < end) {
                    start = next;
                    length = scan - next;
                    offset = nextOffset;
                    next = Math.min(scan + 1, end);
                    nextOffset += next - start;
                    return true;
                }
                if (eof) return false;
                // Ramène la ligne entamée au début du tampon, l'agrandit si elle le remplit, puis lit la suite.
                if (next > 0) {
                    System.arraycopy(buffer, next, buffer, 0, end - next);
                    end -= next;
                    scan -= next;
                    next = 0;
                }
                if (end == buffer.length) buffer = Arrays.copyOf(buffer, buffer.length * 2);
                int want = (int) Math.min(buffer.length - end, remaining);
                int n = want == 0 ? -1 : in.read(buffer, end, want);
                if (n < 0) eof = true;
                else { end += n; remaining -= n; }
            }
        }

        public void close() throws IOException { in.close(); }
    }

    /** Un flux qui ne crée son fichier (privé, en ajout) qu'au premier octet écrit. */
    static final class LazyOutput extends OutputStream {
        private final Path path;
        private OutputStream out;
        LazyOutput(Path path) { this.path = path; }
        private OutputStream out() throws IOException {
            if (out == null) out = new BufferedOutputStream(Channels.newOutputStream(FileChannel.open(path,
                    Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND), Store.PRIVATE)));
            return out;
        }
        @Override public void write(int b) throws IOException { out().write(b); }
        @Override public void write(byte[] b, int off, int len) throws IOException { out().write(b, off, len); }
        @Override public void close() throws IOException { if (out != null) out.close(); }
    }

    // ------------------------------------------------------------------ mémoire compacte

    /**
     * Les identifiants connus, sous forme d'empreintes de 128 bits (MD5) dans une table à adressage ouvert :
     * 16 octets par conversation au lieu d'une chaîne. Deux identifiants distincts de même empreinte ont une
     * probabilité de l'ordre de 10⁻²⁷ pour un million de conversations.
     */
    static final class IdSet {
        private long[] high, low;
        private int size;
        private final MessageDigest md5;

        IdSet() { this(new long[1 << 12], new long[1 << 12], 0); }

        IdSet(long[] high, long[] low, int size) {
            if (high.length != low.length || Integer.bitCount(high.length) != 1) throw new IllegalArgumentException("table invalide");
            this.high = high;
            this.low = low;
            this.size = size;
            try {
                md5 = MessageDigest.getInstance("MD5");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }

        int size() { return size; }
        int capacity() { return high.length; }

        boolean contains(String id) {
            byte[] d = md5.digest(id.getBytes(StandardCharsets.UTF_8));
            long h = word(d, 0), l = word(d, 8) | 1; // |1 : jamais (0, 0), qui marque une case vide
            return high[slot(h, l)] != 0 || low[slot(h, l)] != 0;
        }

        /** Ajoute ; faux si l'identifiant était déjà là. */
        boolean add(String id) {
            byte[] d = md5.digest(id.getBytes(StandardCharsets.UTF_8));
            long h = word(d, 0), l = word(d, 8) | 1;
            int i = slot(h, l);
            if (low[i] != 0) return false;
            high[i] = h;
            low[i] = l;
            if (++size * 10L > high.length * 6L) grow();
            return true;
        }

        /** La case de l'empreinte, ou la case vide où elle irait. */
        private int slot(long h, long l) {
            int mask = high.length - 1;
            int i = (int) (h ^ (h >>> 32)) & mask;
            while (low[i] != 0 && (high[i] != h || low[i] != l)) i = (i + 1) & mask;
            return i;
        }

        private void grow() {
            long[] oldHigh = high, oldLow = low;
            high = new long[oldHigh.length * 2];
            low = new long[oldLow.length * 2];
            for (int i = 0; i < oldHigh.length; i++) {
                if (oldLow[i] == 0) continue;
                int j = slot(oldHigh[i], oldLow[i]);
                high[j] = oldHigh[i];
                low[j] = oldLow[i];
            }
        }

        private static long word(byte[] d, int from) {
            return ByteBuffer.wrap(d, from, 8).getLong();
        }
    }

    /** Une liste de long sans boîtes. */
    static final class LongList {
        private long[] values;
        private int size;
        LongList() { this.values = new long[1 << 10]; }
        LongList(long[] values) {
            this.values = values;
            this.size = values.length;
        }
        int size() { return size; }
        long[] values() { return values; }
        void add(long v) {
            if (size == values.length) values = Arrays.copyOf(values, size * 2);
            values[size++] = v;
        }
        long get(long index) { return values[(int) index]; }
    }

    // ------------------------------------------------------------------ affichage

    /** Lignes de progression et récapitulatif, sur la sortie de la commande. */
    static final class Progress {
        private final PrintWriter out;
        private final java.util.function.LongSupplier nanoTime;
        private long startNanos, lastLineNanos;
        private int limit;

        Progress(PrintWriter out) { this(out, System::nanoTime); }

        Progress(PrintWriter out, java.util.function.LongSupplier nanoTime) {
            this.out = out;
            this.nanoTime = nanoTime;
        }

        void start(int limit) {
            this.limit = limit;
            this.startNanos = this.lastLineNanos = nanoTime.getAsLong();
        }

        void note(String message) {
            out.println(message);
            out.flush();
        }

        /** Au milieu d'une longue page (une requête par conversation chez Weba-AI) : une ligne toutes les 10 s. */
        void during(int number, Totals t, long count, long total, int requests) {
            if (nanoTime.getAsLong() - lastLineNanos >= 10_000_000_000L) page(number, t, count, total, requests);
        }

        void page(int number, Totals t, long count, long total, int requests) {
            lastLineNanos = nanoTime.getAsLong();
            StringBuilder line = new StringBuilder(String.format(Locale.FRANCE, "page %d : %d exportée(s), %d ignorée(s) (%d déjà présente(s), %d sans identifiant)",
                    number, t.exported, t.ignored(), t.alreadyPresent, t.withoutId));
            if (t.notFound > 0) line.append(", ").append(t.notFound).append(" introuvable(s)");
            line.append(", ").append(requests).append(" requête(s)");
            long remaining = limit - t.exported;
            if (total >= 0) remaining = Math.min(remaining, Math.max(0, total - count));
            double seconds = (nanoTime.getAsLong() - startNanos) / 1e9;
            if (t.exported > 0 && remaining > 0 && seconds > 1)
                line.append(", reste environ ").append(duration((long) (remaining * seconds / t.exported)));
            note(line.toString());
        }

        void summary(Totals t, long count, int requests, Path file, boolean complete) {
            note(String.format(Locale.FRANCE, "Terminé : %d conversation(s) exportée(s), %d ignorée(s) (%d déjà présente(s), %d sans identifiant)%s.",
                    t.exported, t.ignored(), t.alreadyPresent, t.withoutId,
                    t.notFound > 0 ? ", " + t.notFound + " introuvable(s) côté API" : ""));
            note(String.format(Locale.FRANCE, "%s contient désormais %d conversation(s) ; %d requête(s) API utilisée(s).", file, count, requests));
            note(complete ? "Tout l'historique est exporté : les prochaines exécutions n'ajouteront que les nouveautés."
                          : "L'historique n'est pas encore entièrement exporté : relancez pour continuer.");
        }

        static String duration(long seconds) {
            if (seconds < 60) return seconds + " s";
            if (seconds < 3600) return seconds / 60 + " min " + seconds % 60 + " s";
            return seconds / 3600 + " h " + seconds % 3600 / 60 + " min";
        }
    }

    // ==== messages : début ====

    /**
     * {@code conv messages} : l'historique complet des messages de chaque conversation Crisp du fichier exporté,
     * un fichier {@code messages/<session_id>.jsonl} par conversation (le plus récent en haut, unique par empreinte).
     */
    @Command(name = "messages", mixinStandardHelpOptions = true, version = "conv 1.0.0", sortOptions = false, usageHelpAutoWidth = true,
            synopsisHeading = "Usage : ", descriptionHeading = "%n", optionListHeading = "%nOptions :%n",
            exitCodeListHeading = "%nCodes de sortie :%n",
            description = {
                "Exporte l'historique des messages de chaque conversation Crisp du fichier des conversations, dans "
                    + "<dossier du fichier>/messages/<session_id>.jsonl : tous les champs, sans doublon, le plus récent en haut.",
                "Une conversation sans message n'a pas de fichier. Seules les conversations nouvelles ou dont updated_at a bougé sont redemandées."},
            exitCodeList = {
                "0:terminé (limite --nb atteinte ou tout est à jour)",
                "1:erreur inattendue (rien n'est perdu : relancez)",
                "2:option invalide",
                "3:configuration : variable manquante ou fichier des conversations absent",
                "4:accès refusé par l'API (identifiants, droits, site)",
                "5:quota ou limite de débit de l'API atteint (progression enregistrée)",
                "6:API injoignable ou réponse inattendue (progression enregistrée)",
                "7:fichier : écriture impossible",
                "8:une autre exécution utilise déjà ce dossier de messages"})
    static final class MessagesCommand implements Callable<Integer> {
        @CommandLine.ParentCommand conv parent;
        @Spec CommandSpec spec;

        @Option(names = "--nb", paramLabel = "N", converter = PositiveInt.class, defaultValue = "50",
                description = "Nombre maximum de conversations à interroger (défaut : ${DEFAULT-VALUE}) ; celles qui sont à jour ne comptent pas.")
        int limit;

        @Option(names = "--reset", description = "Oublie l'état des messages et repart de la première conversation ; les fichiers de messages sont gardés et complétés sans doublon.")
        boolean reset;

        @Option(names = "--input", paramLabel = "FICHIER",
                description = "Fichier des conversations (défaut : conversations/conversations.jsonl). Les messages vont dans le dossier messages/ à côté.")
        Path input;

        @CommandLine.Mixin ApiOptions api;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            MessagesProgress progress = new MessagesProgress(out);
            try {
                Path file = (input != null ? input : exportFolder().resolve("conversations.jsonl")).toAbsolutePath().normalize();
                if (!Files.isRegularFile(file))
                    throw new Failure(Exit.CONFIG, "Le fichier des conversations " + file + " est introuvable : exportez d'abord les "
                            + "conversations (« jbang conv.java »), ou indiquez-le avec --input.");
                Crisp crisp = parent.openCrisp(api);
                Path folder = file.getParent().resolve("messages");
                try (MessagesState state = MessagesState.open(folder, reset, progress);
                     MessagesPlan plan = MessagesPlan.read(file, state)) {
                    progress.plan(file, plan, limit);
                    return run(crisp, state, plan, progress);
                }
            } finally {
                out.flush();
            }
        }

        /** Parcourt les conversations à interroger depuis la position de reprise, en tournant jusqu'au début du fichier. */
        private int run(Crisp crisp, MessagesState state, MessagesPlan plan, MessagesProgress progress) {
            ConversationMessages fetcher = new ConversationMessages(crisp, state.folder(), progress);
            int pending = plan.pending();
            int start = plan.firstAtOrAfter(state.nextOffset());
            Failure stop = null;
            int handled = 0;
            for (int k = 0; k < pending && progress.attempted < limit; k++) {
                long offset = plan.offset((start + k) % pending);
                MessagesPlan.Conversation c = plan.at(offset);
                handled++;
                // Une ligne en double dans le fichier : déjà traitée plus haut dans cette exécution.
                if (c == null || state.upToDate(c.sessionId(), c.updatedAt())) continue;
                progress.attempted++;
                ConversationMessages.Outcome outcome;
                try {
                    outcome = fetcher.fetch(c.sessionId());
                } catch (Failure f) {
                    if (!f.exit.stopsApiCalls()) throw f;
                    // Reprise sur cette conversation (sauf une page qui se répète : on passe à la suivante).
                    state.saveCursor(fetcher.looped() ? offset + 1 : offset);
                    progress.attempted--;
                    handled--;
                    stop = f;
                    break;
                }
                if (outcome.created()) state.filesCreated++;
                state.record(c.sessionId(), c.updatedAt(), outcome.gone());
                state.saveCursor(offset + 1);
                progress.conversation(progress.attempted, Math.min(limit, pending), c.sessionId(), outcome);
            }
            if (stop == null || stop.exit != Exit.AUTH)
                progress.summary(plan, state, crisp.http().requests(), pending - handled);
            if (stop != null) throw stop;
            return Exit.OK.code;
        }
    }

    /**
     * Une lecture en flux du fichier des conversations : ce qu'il faut interroger (la position de chaque ligne,
     * 8 octets par conversation à interroger), ce qui est à jour, ce qui est refusé. Le fichier reste ouvert :
     * si conv le remplace pendant l'exécution, on continue de lire la même version.
     */
    static final class MessagesPlan implements AutoCloseable {
        /** Ce qui sert des conversations : l'identifiant et updated_at (l'activité « active.last » ne dit rien des messages). */
        static final Schema UPDATED = new Schema("session_id", null, "updated_at", false);
        private static final java.util.regex.Pattern SESSION_ID =
                java.util.regex.Pattern.compile("session_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

        record Conversation(String sessionId, long updatedAt) { }

        private final FileChannel channel;
        private final LongList offsets = new LongList();
        long conversations, upToDate, refused;

        private MessagesPlan(FileChannel channel) { this.channel = channel; }

        /** Un identifiant de Crisp : « session_ » et un UUID en minuscules ; rien d'autre ne devient un nom de fichier. */
        static boolean validSessionId(String id) { return id != null && SESSION_ID.matcher(id).matches(); }

        static MessagesPlan read(Path file, MessagesState state) {
            FileChannel channel = null;
            try {
                channel = FileChannel.open(file, StandardOpenOption.READ);
                MessagesPlan plan = new MessagesPlan(channel);
                // Le flux n'est pas fermé ici : il fermerait le canal qui sert ensuite aux lectures à une position.
                LineReader lines = new LineReader(Channels.newInputStream(channel));
                while (lines.next()) {
                    if (lines.isBlank()) continue;
                    plan.conversations++;
                    Entry entry = UPDATED.read(lines.buffer(), lines.start(), lines.length());
                    if (entry == null || !validSessionId(entry.id())) plan.refused++;
                    else if (state.upToDate(entry.id(), entry.key())) plan.upToDate++;
                    else plan.offsets.add(lines.offset());
                }
                return plan;
            } catch (IOException e) {
                Store.closeQuietly(channel);
                throw Store.fileFailure("lire " + file, e);
            }
        }

        int pending() { return offsets.size(); }
        long offset(int index) { return offsets.get(index); }

        /** L'indice de la première conversation à interroger située à {@code offset} ou après (0 si aucune : on fait le tour). */
        int firstAtOrAfter(long offset) {
            int low = 0, high = offsets.size();
            while (low < high) {
                int mid = (low + high) >>> 1;
                if (offsets.get(mid) < offset) low = mid + 1; else high = mid;
            }
            return low == offsets.size() ? 0 : low;
        }

        /** Relit la ligne qui commence à {@code offset}. */
        Conversation at(long offset) {
            try {
                java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();
                ByteBuffer chunk = ByteBuffer.allocate(1 << 14);
                long position = offset;
                read:
                while (true) {
                    chunk.clear();
                    int n = channel.read(chunk, position);
                    if (n <= 0) break;
                    for (int i = 0; i < n; i++) {
                        if (chunk.get(i) == '\n') { line.write(chunk.array(), 0, i); break read; }
                    }
                    line.write(chunk.array(), 0, n);
                    position += n;
                }
                byte[] bytes = line.toByteArray();
                Entry entry = UPDATED.read(bytes, 0, bytes.length);
                return entry == null || !validSessionId(entry.id()) ? null : new Conversation(entry.id(), entry.key());
            } catch (IOException e) {
                throw Store.fileFailure("relire le fichier des conversations", e);
            }
        }

        @Override public void close() { Store.closeQuietly(channel); }
    }

    /**
     * Les messages d'une conversation : pages du plus récent au plus ancien par timestamp_before, fusion sans doublon
     * avec le fichier existant, remplacement atomique du fichier. Rien n'est écrit si la conversation est interrompue
     * (quota, réseau) : un fichier partiel arrêterait à tort le parcours incrémental suivant.
     */
    static final class ConversationMessages {
        static final Schema MESSAGE = new Schema("fingerprint", null, "timestamp", false);

        /** Le bilan d'une conversation. */
        record Outcome(boolean gone, int exported, int ignored, int total, int requests, boolean created) { }

        /** Un message : son empreinte, sa date, ses octets (ceux du fichier, ou ceux de l'API re-sérialisés sans changement). */
        record Message(String fingerprint, long timestamp, byte[] bytes) {
            static final Comparator<Message> NEWEST_FIRST = Comparator.comparingLong(Message::timestamp).reversed()
                    .thenComparing(Message::fingerprint, ConversationMessages::compareFingerprints);
        }

        private final Crisp crisp;
        private final Path folder;
        private final MessagesProgress progress;
        private boolean websiteConfirmed, looped;

        ConversationMessages(Crisp crisp, Path folder, MessagesProgress progress) {
            this.crisp = crisp;
            this.folder = folder;
            this.progress = progress;
        }

        /** Vrai si le dernier arrêt vient d'un serveur qui renvoie sans fin la même page. */
        boolean looped() { return looped; }

        Outcome fetch(String sessionId) {
            looped = false;
            int requestsBefore = crisp.http().requests();
            Path file = folder.resolve(sessionId + ".jsonl");
            Map<String, Message> known = readExisting(file);
            boolean existed = known != null;
            Map<String, Message> fresh = new java.util.HashMap<>();
            int ignored = 0;
            Long before = null;
            while (true) {
                Http.Answer answer = crisp.http().get(uri(sessionId, before), crisp.headers());
                int status = answer.status();
                if (status == 404) {
                    confirmWebsite();
                    return new Outcome(true, 0, 0, existed ? known.size() : 0, crisp.http().requests() - requestsBefore, false);
                }
                JsonNode data = answer.body().path("data");
                if (status < 200 || status >= 300 || !data.isArray()) throw refusal(answer);
                if (data.isEmpty()) break;
                int added = 0;
                boolean allInFile = true;
                long oldest = Long.MAX_VALUE;
                for (JsonNode node : data) {
                    byte[] bytes = Schema.bytes(node);
                    Entry entry = MESSAGE.read(bytes, 0, bytes.length);
                    // Sans empreinte, un message ne peut être dédoublonné : il est compté comme ignoré.
                    if (entry == null || entry.id() == null) { ignored++; continue; }
                    oldest = Math.min(oldest, entry.key());
                    boolean inFile = existed && known.containsKey(entry.id());
                    if (!inFile) allInFile = false;
                    if (inFile || fresh.containsKey(entry.id())) { ignored++; continue; }
                    fresh.put(entry.id(), new Message(entry.id(), entry.key(), bytes));
                    added++;
                }
                // Parcours incrémental : une page déjà entièrement dans le fichier, tout ce qui est plus ancien y est aussi.
                if (existed && allInFile) break;
                if (oldest == Long.MAX_VALUE || oldest == Long.MIN_VALUE) break;
                boolean older = before == null || oldest < before;
                if (!older) {
                    // 206 sans rien de nouveau ni de plus ancien : le serveur tourne en rond, on n'insiste pas.
                    if (added == 0 && status == 206) {
                        looped = true;
                        throw new Failure(Exit.NETWORK, "Crisp renvoie sans fin la même page de messages pour " + sessionId
                                + " (timestamp_before=" + before + " n'avance plus) : rien n'est écrit pour cette conversation, "
                                + "la suivante sera traitée à la prochaine exécution ; si cela persiste, signalez-le.");
                    }
                    break;
                }
                // 206 : d'autres pages ; 200 : la dernière (on ne s'y fie pas seul : page vide ou rien de plus ancien arrêtent aussi).
                if (status != 206) break;
                before = oldest;
            }
            int total = (existed ? known.size() : 0) + fresh.size();
            if (!fresh.isEmpty()) write(file, known, fresh.values());
            return new Outcome(false, fresh.size(), ignored, total, crisp.http().requests() - requestsBefore, !existed && !fresh.isEmpty());
        }

        private URI uri(String sessionId, Long before) {
            return URI.create(crisp.base() + "/website/" + encode(crisp.websiteId()) + "/conversation/" + sessionId + "/messages"
                    + (before == null ? "" : "?timestamp_before=" + before));
        }

        /** Un 404 peut venir d'un site inconnu : une page de la liste le dit (une seule fois par exécution), sinon la conversation a été supprimée. */
        private void confirmWebsite() {
            if (websiteConfirmed) return;
            crisp.list(1);
            websiteConfirmed = true;
        }

        private static Failure refusal(Http.Answer answer) {
            String reason = answer.body().path("reason").asText("");
            String said = " (HTTP " + answer.status() + (reason.isEmpty() ? "" : " " + reason) + ")";
            return switch (answer.status()) {
                case 401 -> new Failure(Exit.AUTH, "Crisp refuse l'identifiant ou la clé" + said + " : vérifiez CRISP_IDENTIFIER_PROD et CRISP_KEY_PROD (jeton plugin de production).");
                case 403 -> new Failure(Exit.AUTH, "Crisp refuse l'accès aux messages" + said + " : le jeton n'a pas le droit website:conversation:messages, ou le plugin n'est pas installé sur ce site.");
                default -> new Failure(Exit.NETWORK, "Réponse inattendue de Crisp sur la route des messages" + said + " : rien n'est perdu, relancez plus tard.");
            };
        }

        /** Les messages du fichier existant (null s'il n'existe pas) ; une ligne illisible est mise de côté, jamais perdue. */
        private Map<String, Message> readExisting(Path file) {
            if (!Files.exists(file)) return null;
            Map<String, Message> known = new java.util.LinkedHashMap<>();
            int rejected = 0;
            try (LineReader lines = new LineReader(Files.newInputStream(file));
                 OutputStream aside = new LazyOutput(Store.sibling(file, ".rejected"))) {
                while (lines.next()) {
                    if (lines.isBlank()) continue;
                    Entry entry = MESSAGE.read(lines.buffer(), lines.start(), lines.length());
                    if (entry == null || entry.id() == null) {
                        aside.write(lines.buffer(), lines.start(), lines.length());
                        aside.write('\n');
                        rejected++;
                        continue;
                    }
                    byte[] bytes = Arrays.copyOfRange(lines.buffer(), lines.start(), lines.start() + lines.length());
                    known.putIfAbsent(entry.id(), new Message(entry.id(), entry.key(), bytes));
                }
            } catch (IOException e) {
                throw Store.fileFailure("lire " + file, e);
            }
            if (rejected > 0)
                progress.note("Attention : " + rejected + " ligne(s) illisible(s) dans " + file.getFileName() + " mise(s) de côté dans "
                        + file.getFileName() + ".rejected.");
            return known;
        }

        private static void write(Path file, Map<String, Message> known, java.util.Collection<Message> fresh) {
            List<Message> all = new ArrayList<>(fresh);
            if (known != null) all.addAll(known.values());
            all.sort(Message.NEWEST_FIRST);
            try {
                AtomicFile.replace(file, out -> {
                    for (Message m : all) { out.write(m.bytes()); out.write('\n'); }
                });
            } catch (IOException e) {
                throw Store.fileFailure("écrire " + file, e);
            }
        }

        /** Empreintes numériques comparées comme des nombres, sinon comme du texte. */
        static int compareFingerprints(String a, String b) {
            try {
                return new java.math.BigInteger(a).compareTo(new java.math.BigInteger(b));
            } catch (NumberFormatException notNumbers) {
                return a.compareTo(b);
            }
        }
    }

    /**
     * L'état des messages, dans le dossier messages/ :
     * <ul>
     * <li>{@code messages.jsonl.fetched} : un journal en ajout seul, une ligne {"session_id", "updated_at"} (plus "gone" pour
     *     une conversation supprimée chez Crisp) écrite et forcée après le fichier de la conversation ; la dernière ligne
     *     d'un identifiant fait foi ; compacté (réécrit atomiquement) au démarrage quand il dépasse le double du nécessaire ;</li>
     * <li>{@code messages.jsonl.state.json} : la position de reprise dans le fichier des conversations (octets), petite et
     *     remplacée atomiquement après chaque conversation ;</li>
     * <li>{@code messages.jsonl.lock} : une seule exécution à la fois.</li>
     * </ul>
     * En mémoire : une table à adressage ouvert empreinte de l'UUID (64 bits) → updated_at, 16 octets par case, au plus
     * 60 % pleine : 32 Mo pour un million de conversations. Une collision d'empreintes ne ferait qu'interroger une
     * conversation de trop (il faudrait aussi le même updated_at pour en sauter une).
     */
    static final class MessagesState implements AutoCloseable {
        record Cursor(int format, long nextOffset, String savedAt) { }

        private final Path folder, journal, stateFile;
        private final FileChannel lock;
        private FileChannel journalOut;
        private long[] keys = new long[1 << 12], values = new long[1 << 12];
        private int size;
        private long journalLines, nextOffset;
        long filesAtStart, filesCreated;

        private MessagesState(Path folder, FileChannel lock) {
            this.folder = folder;
            this.journal = folder.resolve("messages.jsonl.fetched");
            this.stateFile = folder.resolve("messages.jsonl.state.json");
            this.lock = lock;
        }

        Path folder() { return folder; }
        long nextOffset() { return nextOffset; }
        long files() { return filesAtStart + filesCreated; }

        static MessagesState open(Path folder, boolean reset, MessagesProgress progress) {
            FileChannel channel = null;
            try {
                Files.createDirectories(folder);
                channel = FileChannel.open(folder.resolve("messages.jsonl.lock"), Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE), Store.PRIVATE);
                FileLock held;
                try {
                    held = channel.tryLock();
                } catch (OverlappingFileLockException e) {
                    held = null;
                }
                if (held == null)
                    throw new Failure(Exit.BUSY, "Une autre exécution de « conv messages » utilise déjà " + folder
                            + " : attendez qu'elle se termine (ou arrêtez-la), puis relancez.");
                MessagesState state = new MessagesState(folder, channel);
                if (reset) {
                    Files.deleteIfExists(state.journal);
                    Files.deleteIfExists(state.stateFile);
                    progress.note("--reset : état des messages oublié ; les fichiers de messages sont gardés et seront complétés sans doublon.");
                }
                state.scanFolder();
                state.loadJournal(progress);
                state.loadCursor(progress);
                return state;
            } catch (IOException e) {
                Store.closeQuietly(channel);
                throw Store.fileFailure("préparer " + folder, e);
            } catch (RuntimeException e) {
                Store.closeQuietly(channel);
                throw e;
            }
        }

        /** Une lecture en flux du dossier : restes d'écritures interrompues effacés, fichiers de messages comptés. */
        private void scanFolder() throws IOException {
            try (var entries = Files.newDirectoryStream(folder)) {
                for (Path p : entries) {
                    String name = p.getFileName().toString();
                    if (name.endsWith(".tmp")) Store.deleteQuietly(p);
                    else if (name.endsWith(".jsonl") && MessagesPlan.validSessionId(name.substring(0, name.length() - 6))) filesAtStart++;
                }
            }
        }

        private void loadJournal(MessagesProgress progress) throws IOException {
            if (!Files.exists(journal)) return;
            truncateTornTail();
            try (LineReader lines = new LineReader(Files.newInputStream(journal))) {
                while (lines.next()) {
                    Entry entry = MessagesPlan.UPDATED.read(lines.buffer(), lines.start(), lines.length());
                    if (entry == null || !MessagesPlan.validSessionId(entry.id())) continue;
                    journalLines++;
                    put(key(entry.id()), entry.key());
                }
            }
            if (journalLines > 2L * size + 10_000) compact(progress);
        }

        /** Une ligne sans fin de ligne est le reste d'un ajout interrompu : sa conversation sera simplement redemandée. */
        private void truncateTornTail() throws IOException {
            try (FileChannel channel = FileChannel.open(journal, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                long end = channel.size();
                ByteBuffer one = ByteBuffer.allocate(1);
                while (end > 0) {
                    one.clear();
                    channel.read(one, end - 1);
                    if (one.get(0) == '\n') break;
                    end--;
                }
                if (end < channel.size()) {
                    channel.truncate(end);
                    channel.force(true);
                }
            }
        }

        /** Garde une ligne par conversation (celle qui fait foi), en flux, par fichier temporaire renommé. */
        private void compact(MessagesProgress progress) throws IOException {
            BitSet written = new BitSet(keys.length);
            long[] kept = {0};
            AtomicFile.replace(journal, out -> {
                try (LineReader lines = new LineReader(Files.newInputStream(journal))) {
                    while (lines.next()) {
                        Entry entry = MessagesPlan.UPDATED.read(lines.buffer(), lines.start(), lines.length());
                        if (entry == null || !MessagesPlan.validSessionId(entry.id())) continue;
                        int slot = slot(key(entry.id()));
                        if (keys[slot] == 0 || values[slot] != entry.key() || written.get(slot)) continue;
                        written.set(slot);
                        out.write(lines.buffer(), lines.start(), lines.length());
                        out.write('\n');
                        kept[0]++;
                    }
                }
            });
            progress.note("Journal des messages compacté : " + journalLines + " ligne(s) → " + kept[0] + ".");
            journalLines = kept[0];
        }

        private void loadCursor(MessagesProgress progress) {
            if (!Files.exists(stateFile)) return;
            try {
                Cursor cursor = JSON.readValue(stateFile.toFile(), Cursor.class);
                nextOffset = Math.max(0, cursor.nextOffset());
            } catch (IOException e) {
                // Ce n'est qu'une position de reprise : le journal dit déjà ce qui est à jour.
                progress.note("État " + stateFile.getFileName() + " illisible : reprise depuis la première conversation (rien ne sera redemandé inutilement).");
            }
        }

        /** Vrai si les messages ont déjà été lus à ce même updated_at. */
        boolean upToDate(String sessionId, long updatedAt) {
            int slot = slot(key(sessionId));
            return keys[slot] != 0 && values[slot] == updatedAt;
        }

        /** Note la conversation comme à jour : une ligne ajoutée au journal et forcée (O(1), sans réécrire de table). */
        void record(String sessionId, long updatedAt, boolean gone) {
            com.fasterxml.jackson.databind.node.ObjectNode node = JSON.createObjectNode().put("session_id", sessionId);
            if (updatedAt == Long.MIN_VALUE) node.putNull("updated_at"); else node.put("updated_at", updatedAt);
            if (gone) node.put("gone", true);
            try {
                if (journalOut == null)
                    journalOut = FileChannel.open(journal, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND), Store.PRIVATE);
                byte[] line = JSON.writeValueAsBytes(node);
                ByteBuffer buffer = ByteBuffer.allocate(line.length + 1).put(line).put((byte) '\n');
                buffer.flip();
                while (buffer.hasRemaining()) journalOut.write(buffer);
                journalOut.force(false);
            } catch (IOException e) {
                throw Store.fileFailure("écrire " + journal, e);
            }
            journalLines++;
            put(key(sessionId), updatedAt);
        }

        void saveCursor(long offset) {
            nextOffset = offset;
            try {
                byte[] bytes = JSON.writeValueAsBytes(new Cursor(1, offset, Instant.now().toString()));
                AtomicFile.replace(stateFile, out -> out.write(bytes));
            } catch (IOException e) {
                throw Store.fileFailure("enregistrer l'état " + stateFile, e);
            }
        }

        /** L'empreinte 64 bits de l'UUID d'un identifiant déjà validé ; jamais 0, qui marque une case vide. */
        static long key(String sessionId) {
            java.util.UUID uuid = java.util.UUID.fromString(sessionId.substring("session_".length()));
            long k = uuid.getMostSignificantBits() * 0x9E3779B97F4A7C15L ^ uuid.getLeastSignificantBits();
            return k == 0 ? 1 : k;
        }

        private int slot(long k) {
            int mask = keys.length - 1;
            int i = (int) (k ^ (k >>> 29) ^ (k >>> 47)) & mask;
            while (keys[i] != 0 && keys[i] != k) i = (i + 1) & mask;
            return i;
        }

        private void put(long k, long value) {
            int i = slot(k);
            if (keys[i] == 0) {
                keys[i] = k;
                if (++size * 10L > keys.length * 6L) { values[i] = value; grow(); return; }
            }
            values[i] = value;
        }

        private void grow() {
            long[] oldKeys = keys, oldValues = values;
            keys = new long[oldKeys.length * 2];
            values = new long[oldValues.length * 2];
            for (int i = 0; i < oldKeys.length; i++) {
                if (oldKeys[i] == 0) continue;
                int j = slot(oldKeys[i]);
                keys[j] = oldKeys[i];
                values[j] = oldValues[i];
            }
        }

        @Override
        public void close() {
            Store.closeQuietly(journalOut);
            Store.closeQuietly(lock);
        }
    }

    /** Lignes de progression et bilan de la commande messages. */
    static final class MessagesProgress {
        private final PrintWriter out;
        int attempted, processed, gone;
        long exported, ignored;

        MessagesProgress(PrintWriter out) { this.out = out; }

        void note(String message) {
            out.println(message);
            out.flush();
        }

        void plan(Path file, MessagesPlan plan, int limit) {
            long now = Math.min(limit, plan.pending());
            note(String.format(Locale.FRANCE, "%s : %d conversation(s), %d à interroger (nouvelles ou modifiées), %d à jour, %d refusée(s) (identifiant invalide).",
                    file.getFileName(), plan.conversations, plan.pending(), plan.upToDate, plan.refused));
            if (now > 0)
                note(String.format(Locale.FRANCE, "Cette exécution en interroge %d : au moins %d requête(s), une par page de 40 messages "
                        + "(une conversation déjà exportée en coûte en général 1 ou 2) ; quota d'un jeton plugin Crisp : 5 000 par jour.", now, now));
        }

        void conversation(int number, long of, String sessionId, ConversationMessages.Outcome o) {
            if (o.gone()) {
                gone++;
                note(String.format(Locale.FRANCE, "[%d/%d] %s : introuvable chez Crisp (supprimée), ignorée.", number, of, sessionId));
                return;
            }
            processed++;
            exported += o.exported();
            ignored += o.ignored();
            note(String.format(Locale.FRANCE, "[%d/%d] %s : %d message(s) exporté(s), %d ignoré(s) (déjà présents), %d au total, %d requête(s).",
                    number, of, sessionId, o.exported(), o.ignored(), o.total(), o.requests()));
        }

        void summary(MessagesPlan plan, MessagesState state, int requests, long remaining) {
            note(String.format(Locale.FRANCE, "Terminé : %d conversation(s) traitée(s), %d ignorée(s) (%d à jour, %d identifiant(s) refusé(s)), "
                    + "%d introuvable(s) chez Crisp ; %d message(s) exporté(s), %d ignoré(s) (déjà présents).",
                    processed, plan.upToDate + plan.refused, plan.upToDate, plan.refused, gone, exported, ignored));
            note(String.format(Locale.FRANCE, "%s contient désormais %d fichier(s) de messages ; %d requête(s) API utilisée(s).",
                    state.folder(), state.files(), requests));
            note(remaining > 0 ? "Reste " + remaining + " conversation(s) à interroger : relancez pour continuer."
                               : "Les messages de toutes les conversations sont à jour.");
        }
    }

    // ==== messages : fin ====
}
