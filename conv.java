///usr/bin/env jbang "$0" "$@" ; exit $?
//DESCRIPTION Exporte toutes les conversations d'un compte Crisp ou d'un bot Weba-AI dans un fichier JSONL, un peu plus à chaque exécution, sans perte ni doublon.
//JAVA 17+
//DEPS info.picocli:picocli:4.7.6
//DEPS com.fasterxml.jackson.core:jackson-databind:2.17.2
//CDS
// TieredStopAtLevel=1 : une exécution dure quelques secondes, le compilateur C2 y coûte plus qu'il ne rapporte (README).
//RUNTIME_OPTIONS -XX:+UseSerialGC -Xms16m -XX:TieredStopAtLevel=1 -Xlog:disable -Xlog:all=error:stderr

import com.fasterxml.jackson.core.*;
import com.fasterxml.jackson.core.exc.*;
import com.fasterxml.jackson.databind.*;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.*;
import java.net.*;
import java.net.http.*;
import java.nio.ByteBuffer;
import java.nio.channels.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.nio.file.attribute.*;
import java.security.*;
import java.time.*;
import java.time.format.*;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.ExecutionException;       // celle du JDK, pas celle de picocli.CommandLine.*
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import picocli.CommandLine;
import picocli.CommandLine.*;
import picocli.CommandLine.Model.CommandSpec;

// INHERIT : les sous-commandes reprennent la version, l'aide standard et les titres de l'aide.
@Command(name = "conv", scope = CommandLine.ScopeType.INHERIT, mixinStandardHelpOptions = true, version = "conv 2.1.0",
        sortOptions = false, usageHelpAutoWidth = true,
        headerHeading = "", synopsisHeading = "Usage : ", descriptionHeading = "%n",
        optionListHeading = "%nOptions :%n", commandListHeading = "%nCommandes :%n", exitCodeListHeading = "%nCodes de sortie :%n",
        subcommands = {conv.MessagesCommand.class, conv.PeopleCommand.class},
        description = {
            "Exporte les conversations d'un compte Crisp (ou d'un bot Weba-AI) dans un fichier JSONL (par défaut "
                + "conversations/conversations.jsonl, ou conversations/weba-conversations.jsonl pour weba), un peu plus à chaque "
                + "exécution, sans perte ni doublon, trié par dernière activité."})
public class conv implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Option(names = "--source", paramLabel = "crisp|weba", converter = SourceConverter.class,
            description = "Système à exporter (défaut : ${DEFAULT-VALUE}).", defaultValue = "crisp")
    SourceInfo sourceInfo;

    @Mixin ListOptions list = new ListOptions(400, 20);     // 20 par page : la spécification

    @Mixin ApiOptions api;

    // Taille d'un morceau trié en mémoire avant d'être écrit à part : abaissée par les tests pour forcer le tri externe.
    @Option(names = "--sort-chunk-bytes", hidden = true, defaultValue = "" + Store.DEFAULT_CHUNK_BYTES)
    long sortChunkBytes;

    @Option(names = "--clock-offset-ms", hidden = true, defaultValue = "0") long clockOffsetMs;   // notre horloge décalée : un serveur en avance, pour les tests

    private final Map<String, String> env;

    public conv() { this(System.getenv()); }

    conv(Map<String, String> env) { this.env = env; }

    public static void main(String[] args) {
        Phases.mark("main");
        int code;
        try {
            code = commandLine(new conv()).execute(args);
        } catch (OutOfMemoryError e) {
            System.err.println("Mémoire insuffisante pour ce fichier : rien n'est perdu ; relancez avec plus de mémoire, "
                    + "par exemple JAVA_TOOL_OPTIONS=-Xmx512m, et signalez-le si cela persiste.");
            code = Exit.BUG.code;
        }
        Http.release();
        Phases.print();
        System.exit(code);
    }

    /** La ligne de commande avec nos gestionnaires d'erreurs : une phrase en français, jamais de trace de pile. */
    static CommandLine commandLine(conv app) {
        CommandLine cmd = new CommandLine(app)
                .setResourceBundle(new java.util.ListResourceBundle() {
                    // Les options standard de Picocli, décrites en français.
                    protected Object[][] getContents() {
                        return new Object[][] {{"mixinStandardHelpOptions.help", "Affiche cette aide."},
                                               {"mixinStandardHelpOptions.version", "Affiche la version."}};
                    }
                })
                .setParameterExceptionHandler(conv::badUsage)
                .setExecutionExceptionHandler((e, command, parsed) -> {
                    // Le message d'une exception inattendue peut porter un en-tête de requête : seul son type est montré.
                    String message = e instanceof Failure f ? f.getMessage()
                            : "Erreur inattendue (" + e.getClass().getSimpleName()
                              + "). Rien de ce qui était exporté n'est perdu : relancez ; si cela persiste, signalez-le.";
                    command.getErr().println(message);
                    command.getErr().flush();
                    return e instanceof Failure f ? f.exit.code : Exit.BUG.code;
                });
        // Les variables de chaque source, dites par la source elle-même.
        List<String> description = new ArrayList<>(List.of(cmd.getCommandSpec().usageMessage().description()));
        description.add("Variables : " + String.join(" ; ", sources().stream()
                .map(info -> info.variables().stream().map(Variable::name).reduce((a, b) -> a + ", " + b).orElse("") + " (" + info.name() + ")")
                .toList()) + ".");
        cmd.getCommandSpec().usageMessage().description(description.toArray(String[]::new));
        // Une seule table des codes de sortie, celle d'Exit, pour l'aide de chaque commande.
        cmd.getCommandSpec().usageMessage().exitCodeList(Exit.table());
        cmd.getSubcommands().values().forEach(sub -> sub.getCommandSpec().usageMessage().exitCodeList(Exit.table()));
        return cmd;
    }

    @Override
    public Integer call() {
        Source source = sourceInfo.open(env, api, list.perPage);          // variables vérifiées, aucune requête encore
        Progress progress = new Progress(spec.commandLine().getOut(), System::nanoTime, source.info().noun());
        return export(spec, source, progress, repoFolder("conversations").resolve(sourceInfo.defaultFile()), list);
    }

    /** Un export de liste, le même pour toute source : verrou, état, parcours, tri final, récapitulatif. */
    int export(CommandSpec spec, Source source, Progress progress, Path byDefault, ListOptions list) {
        Path file = list.output != null ? list.output : byDefault;
        if (file.getFileName() == null || Files.isDirectory(file))
            throw new ParameterException(spec.commandLine(), "--output attend un fichier, pas un dossier (« " + file + " »).");
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        try (Interruption interruption = new Interruption(err);
             Store store = Store.open(file, source.info(), source.account(), progress, list.reset, sortChunkBytes)) {   // verrou, état validé, puis fichier lu
            Phases.mark("open");
            progress.present(store.count());
            RunResult result = new Exporter(source, store, progress, list).run(store.state(), System.currentTimeMillis() + clockOffsetMs);
            Phases.mark("requests");
            store.finish();
            Phases.mark("rewrite");
            interruption.done();
            // Après un refus d'accès il n'y a rien à résumer : seule la phrase d'erreur compte.
            if (result.stop() == null || result.stop().exit != Exit.AUTH)
                progress.summary(result, store.count(), store.file());
            if (result.stop() == null) return Exit.OK.code;
            err.println(result.stop().getMessage());
            return result.stop().exit.code;
        } finally {
            out.flush();
            err.flush();
        }
    }

    /** Crisp, ouvert depuis les variables d'environnement : sert aussi à la commande messages. */
    Crisp openCrisp(ApiOptions options) {
        return new Crisp(options.http(Crisp.INFO), options.base(Crisp.INFO), credentials(env, Crisp.INFO.variables()), 20);
    }

    /** Le dossier {@code name} du dépôt de conv (conv.java et conversations/) qui contient le dossier courant (l'alias marche de partout), sinon ./name. */
    static Path repoFolder(String name) {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent())
            if (Files.isRegularFile(dir.resolve("conv.java")) && Files.isDirectory(dir.resolve("conversations")))
                return dir.resolve(name);
        return Path.of(name);
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
        String name = e.getCommandLine().getCommandSpec().qualifiedName();
        e.getCommandLine().getErr().println(why + " Voir « " + name + " --help ».");
        return Exit.USAGE.code;
    }

    private static String optionName(ParameterException e) {
        CommandLine.Model.ArgSpec arg = e.getArgSpec();
        if (e instanceof CommandLine.OverwrittenOptionException o) arg = o.getOverwritten();
        if (e instanceof CommandLine.MissingParameterException m && !m.getMissing().isEmpty()) arg = m.getMissing().get(0);
        return arg instanceof CommandLine.Model.OptionSpec option ? option.longestName() : "une option";
    }

    /** Options communes aux exports de liste (conversations et profils) : mêmes mots, même sens. */
    static final class ListOptions {
        // Les défauts de chaque commande, en valeurs initiales : Picocli les reprend et les affiche.
        ListOptions(int limit, int perPage) {
            this.limit = limit;
            this.perPage = perPage;
        }

        @Option(names = "--nb", paramLabel = "N", converter = PositiveInt.class,
                description = "Nombre maximum de nouveaux éléments (conversations ou profils) à exporter (défaut : ${DEFAULT-VALUE}).")
        int limit;

        @Option(names = "--per-page", paramLabel = "N", converter = PerPage.class,
                description = "Crisp : éléments par page, de 20 à 50 (défaut : ${DEFAULT-VALUE}) ; 50 dépense 2,5 fois moins de requêtes du quota que 20.")
        int perPage;

        @Option(names = "--refresh", description = "Met aussi à jour les éléments déjà exportés qui ont changé, y compris ceux vus par les "
                + "exécutions sans --refresh (conversations : les pages qu'elles occupent, plus une fiche chacune chez Weba-AI ; profils : "
                + "sans requête de plus) ; ne compte pas dans --nb.")
        boolean refresh;

        @Option(names = "--full-refresh", description = "Parcourt une fois toute la liste pour mettre à jour chaque élément (implique "
                + "--refresh) ; reprend d'une exécution à l'autre, à borner avec --max-requests.")
        boolean fullRefresh;

        @Option(names = "--max-requests", paramLabel = "N", converter = MaxRequests.class,
                description = "Nombre maximum de requêtes à l'API pour cette exécution, au moins 3, sans compter les nouveaux essais "
                        + "après une erreur passagère (défaut : aucun) ; le reste attend la suivante.")
        Integer maxRequests;

        @Option(names = "--reset", description = "Efface le fichier d'export et son état, puis repart de zéro.")
        boolean reset;

        @Option(names = "--output", paramLabel = "FICHIER",
                description = "Fichier JSONL à écrire au lieu de celui par défaut (dit plus haut). L'état est à côté : FICHIER.state.json.")
        Path output;

        boolean refresh() { return refresh || fullRefresh; }     // --full-refresh implique --refresh
    }

    /** Options communes aux commandes qui appellent une API : adresse, délai, rythme, attente entre essais. */
    static final class ApiOptions {
        @Option(names = "--base-url", paramLabel = "URL", converter = HttpUrl.class,
                description = "Adresse de l'API (défaut : https://api.crisp.chat/v1 ou https://cdn.weba-ai.com/api) ; sert à viser un simulateur.")
        URI baseUrl;

        @Option(names = "--timeout", paramLabel = "SECONDES", converter = PositiveInt.class, defaultValue = "30",
                description = "Délai maximal d'une réponse complète de l'API (défaut : ${DEFAULT-VALUE} s).")
        int timeoutSeconds;

        @Option(names = "--requests-per-minute", paramLabel = "N", converter = PositiveInt.class,
                description = "Rythme maximal des requêtes (défaut : aucun pour Crisp, 95 pour Weba-AI qui en tolère 100).")
        Integer requestsPerMinute;

        // Base des attentes entre deux essais : réduite par les tests pour ne pas attendre des secondes.
        @Option(names = "--retry-base-ms", hidden = true, defaultValue = "1000", converter = PositiveInt.class)
        int retryBaseMs;

        Http http(SourceInfo info) {
            Pacer pacer = new Pacer(requestsPerMinute != null ? requestsPerMinute : info.defaultRate());
            return new Http(Duration.ofSeconds(timeoutSeconds), RetryPolicy.standard(Duration.ofMillis(retryBaseMs)), pacer, info.rateLimitAdvice());
        }

        /** L'adresse de l'API sans barre finale. */
        String base(SourceInfo info) { return (baseUrl != null ? baseUrl.toString() : info.defaultUrl()).replaceAll("/+$", ""); }
    }

    /** Le seul convertisseur d'entiers : au moins 1 ; une option aux autres bornes en fait une sous-classe d'une ligne. */
    static class PositiveInt implements ITypeConverter<Integer> {
        private final int min, max;
        private final String outside;
        PositiveInt() { this(1, Integer.MAX_VALUE, "n'est pas un nombre entier supérieur ou égal à 1"); }
        PositiveInt(int min, int max, String outside) { this.min = min; this.max = max; this.outside = outside; }

        public Integer convert(String value) {
            String text = value.strip();
            try {
                int n = Integer.parseInt(text);
                if (n >= min && n <= max) return n;
            } catch (NumberFormatException e) {
                if (text.matches("\\+?\\d+"))
                    throw new TypeConversionException("« " + value + " » est trop grand (au plus " + Integer.MAX_VALUE + ")");
            }
            throw new TypeConversionException("« " + value + " » " + outside);
        }
    }

    static final class PerPage extends PositiveInt { PerPage() { super(20, 50, "n'est pas un nombre entier entre 20 et 50 (ce que Crisp accepte)"); } }

    // Une exécution lit la page 1 (nouveautés ?) puis relit la page où la précédente s'était arrêtée : il faut encore la suivante.
    static final class MaxRequests extends PositiveInt {
        MaxRequests() { super(3, Integer.MAX_VALUE, "n'est pas un nombre entier d'au moins 3 (la page 1, la page où l'export s'était arrêté, et la suivante)"); }
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

    static final class SourceConverter implements ITypeConverter<SourceInfo> {
        public SourceInfo convert(String value) {
            return sources().stream().filter(info -> info.name().equals(value.strip().toLowerCase(Locale.ROOT))).findFirst()
                    .orElseThrow(() -> new TypeConversionException("« " + value + " » n'est pas une source connue (crisp ou weba)"));
        }
    }

    // ------------------------------------------------------------------ issues d'une exécution

    /** Codes de sortie documentés, définis ici seulement ; ceux qui gardent la progression arrêtent proprement l'export. */
    enum Exit {
        OK(0, "export terminé : limite --nb ou --max-requests atteinte, ou historique complet"),
        BUG(1, "erreur inattendue (rien n'est perdu : relancez)"),
        USAGE(2, "option invalide"),
        CONFIG(3, "configuration : variable manquante ou invalide, état illisible ou invalide, fichier d'une autre source ou d'un autre compte"),
        AUTH(4, "accès refusé par l'API : identifiants (401), droits du jeton (403), site ou bot inconnu (404)"),
        QUOTA(5, "quota ou limite de débit atteint malgré les nouveaux essais (progression enregistrée : relancez plus tard)"),
        NETWORK(6, "API injoignable, en panne, redirigée ou réponse inattendue (progression enregistrée)"),
        FILES(7, "fichier : écriture impossible (disque plein, lecture seule, nom trop long…), export précédent intact"),
        BUSY(8, "une autre exécution utilise déjà ce fichier");

        final int code;
        final String meaning;
        Exit(int code, String meaning) { this.code = code; this.meaning = meaning; }
        boolean stopsApiCalls() { return this == AUTH || this == QUOTA || this == NETWORK; }

        static Map<String, String> table() {
            Map<String, String> table = new LinkedHashMap<>();
            for (Exit exit : values()) table.put(String.valueOf(exit.code), exit.meaning);
            return table;
        }
    }

    /** Un arrêt expliqué à l'utilisateur : le message est une phrase française complète. */
    static final class Failure extends RuntimeException {
        final Exit exit;
        Failure(Exit exit, String message) { super(message, null, false, false); this.exit = exit; }
    }

    /** Ctrl-C ou SIGTERM pendant un export : une phrase qui dit que rien n'est perdu et quoi faire. */
    static final class Interruption implements AutoCloseable {
        private final AtomicBoolean finished = new AtomicBoolean();
        private final Thread hook;

        Interruption(PrintWriter err) {
            hook = new Thread(() -> {
                if (!finished.get()) err.append("Interrompu : ce qui était exporté est enregistré ; relancez la même commande pour reprendre.\n").flush();
            }, "interruption");
            Runtime.getRuntime().addShutdownHook(hook);
        }

        void done() { finished.set(true); }

        @Override
        public void close() {
            finished.set(true);
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException exiting) { /* la JVM s'arrête déjà : le crochet décide seul */ }
        }
    }

    /** Instants des étapes d'une exécution, imprimés sur stderr si CONV_PHASES est défini (pour le banc de mesure). */
    static final class Phases {
        private static final boolean ON = System.getenv("CONV_PHASES") != null;
        private static final Map<String, Long> AT = new LinkedHashMap<>();

        static void mark(String phase) { if (ON) AT.put(phase, System.currentTimeMillis()); }

        static void print() {
            if (!ON) return;
            // Le démarrage selon la JVM elle-même (celui de ProcessHandle, arrondi à la seconde, est trop imprécis).
            StringBuilder line = new StringBuilder("phases jvm=").append(java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime());
            AT.forEach((phase, at) -> line.append(' ').append(phase).append('=').append(at));
            System.err.println(line.append(" end=").append(System.currentTimeMillis()));
        }
    }

    // ------------------------------------------------------------------ sources

    /** Une variable d'environnement qu'une source exige. */
    record Variable(String name, String what) { }

    /** Tout ce qu'une source dit d'elle-même, en un seul endroit : une troisième source = une classe et une entrée de sources(). */
    record SourceInfo(String name, Progress.Noun noun, String defaultUrl, Integer defaultRate, String defaultFile, List<Variable> variables,
                      Schema schema, String rateLimitAdvice, boolean detailRequest, Factory factory) {
        interface Factory { Source open(Http http, String base, Map<String, String> values, int perPage); }

        /** Vérifie les variables de la source (sans requête) et prépare ses appels. */
        Source open(Map<String, String> env, ApiOptions api, int perPage) {
            return factory.open(api.http(this), api.base(this), credentials(env, variables), perPage);
        }
    }

    /** Les sources de --source, dans l'ordre de l'aide ; une méthode et non une constante, que chaque INFO soit prêt. */
    static List<SourceInfo> sources() { return List.of(Crisp.INFO, Weba.INFO); }

    /** Lecture des variables d'environnement : présentes, et utilisables telles quelles dans un en-tête HTTP. */
    static Map<String, String> credentials(Map<String, String> env, List<Variable> variables) {
        Map<String, String> values = new LinkedHashMap<>();
        List<String> wrong = new ArrayList<>();
        for (Variable variable : variables) {
            String value = env.get(variable.name()) == null ? "" : env.get(variable.name()).strip();
            // Un en-tête HTTP ne porte ni retour à la ligne ni caractère hors ASCII, et l'erreur du JDK citerait le secret.
            if (value.isEmpty()) wrong.add(variable.name() + " (" + variable.what() + ") est absente");
            else if (value.chars().anyMatch(c -> c < 0x20 || c >= 0x7f))
                wrong.add(variable.name() + " contient un caractère de contrôle ou non ASCII (un retour à la ligne, une espace insécable copiés avec la valeur ?)");
            values.put(variable.name(), value);
        }
        if (!wrong.isEmpty()) throw new Failure(Exit.CONFIG, "Variable(s) d'environnement à corriger : " + String.join(" ; ", wrong) + ". Définissez ou corrigez chacune, puis relancez.");
        return values;
    }

    /** Un élément de la liste, sérialisé et lu une seule fois : son objet, ses octets, son identité et ses clés. */
    record Listed(JsonNode node, byte[] bytes, Entry entry) {
        static Listed of(Schema schema, JsonNode node) {
            byte[] bytes = Schema.bytes(node);
            Entry entry = schema.read(bytes, 0, bytes.length);
            return new Listed(node, bytes, entry != null ? entry : Entry.NONE);
        }
        Conversation complete() { return new Conversation(entry, bytes, null); }
    }

    /** Une page de la liste ; offset : la position de son premier élément ; total : -1 si l'API n'en annonce pas ; date : l'heure du serveur, ou null. */
    record Page(List<Listed> items, long offset, long next, long number, boolean last, long total, Instant date) { }

    /** Une conversation prête à écrire ; {@code missing} dit pourquoi son contenu complet manque, s'il manque. */
    record Conversation(Entry entry, byte[] bytes, String missing) { }

    /** Une API de conversations : une liste paginée triée par clé de parcours décroissante, et le contenu complet d'un élément. */
    sealed interface Source permits Crisp, Weba, CrispPeople {
        SourceInfo info();
        String account();
        Http http();
        /** La page qui contient la position {@code offset} (à partir de 0) de la liste. */
        Page list(long offset);
        /** La conversation complète telle qu'elle sera écrite (par défaut, l'élément de la liste l'est déjà). */
        default Conversation complete(Listed item) { return item.complete(); }
        /** Une conversation demandée seule (Weba-AI : par son visiteur, user_id), ou null si l'API répond 404. */
        Conversation one(String id);
        /** Faux si l'API a refusé l'ordre demandé : la liste vient alors dans un ordre inconnu. */
        default boolean ordered() { return true; }
    }

    /** Crisp REST v1 : chaque élément de la liste est déjà la conversation complète. */
    static final class Crisp implements Source {
        static final SourceInfo INFO = new SourceInfo("crisp", new Progress.Noun("conversation(s)", true, "Tout l'historique est exporté", "conv"),
                "https://api.crisp.chat/v1", null, "conversations.jsonl",
                List.of(new Variable("CRISP_IDENTIFIER_PROD", "l'identifiant du jeton plugin Crisp"),
                        new Variable("CRISP_KEY_PROD", "la clé du jeton plugin Crisp"),
                        new Variable("ID_SITE_CRISP", "l'identifiant du site Crisp")),
                Schema.CRISP, "le quota d'un jeton plugin Crisp est journalier (5 000 requêtes par défaut) : relancez demain, "
                        + "l'export reprendra là où il s'est arrêté.", false, Crisp::new);

        private final Http http;
        private final String base;
        private final String websiteId;
        private final int perPage;
        private final Map<String, String> headers;

        Crisp(Http http, String base, Map<String, String> values, int perPage) {
            this.http = http;
            this.base = base;
            this.websiteId = values.get("ID_SITE_CRISP");
            this.perPage = perPage;
            String token = values.get("CRISP_IDENTIFIER_PROD") + ":" + values.get("CRISP_KEY_PROD");
            String basic = Base64.getEncoder().encodeToString(token.getBytes(StandardCharsets.UTF_8));
            this.headers = Map.of("Authorization", "Basic " + basic, "X-Crisp-Tier", "plugin", "Content-Type", "application/json");
        }

        public SourceInfo info() { return INFO; }
        public String account() { return websiteId; }
        public Http http() { return http; }

        public Page list(long offset) {
            long number = offset / perPage + 1;
            // Ordre explicite par date de mise à jour : l'ordre par défaut (par statut, puis par date) n'est monotone en rien.
            return page(site("conversations/" + number + "?per_page=" + perPage + "&order_date_updated=1"), INFO.schema(), number, perPage);
        }

        /** Une route du site ({@code /website/{id}/…}) avec les en-têtes du jeton : conversations, messages, profils. */
        Http.Answer site(String route) { return http.get(URI.create(base + "/website/" + encode(websiteId) + "/" + route), headers); }

        /** Une page d'une liste de Crisp (conversations ou profils), ou le refus expliqué. */
        static Page page(Http.Answer answer, Schema schema, long number, int perPage) {
            // 200 et 206 sont deux succès ; la fin de l'historique est une page vide, pas un code.
            if (answer.status() >= 200 && answer.status() < 300 && answer.body().path("data").isArray()) {
                List<Listed> items = new ArrayList<>();
                answer.body().path("data").forEach(node -> items.add(Listed.of(schema, node)));
                long first = (number - 1) * perPage;
                return new Page(items, first, first + perPage, number, items.isEmpty(), -1, answer.date());
            }
            throw refusal(answer);
        }

        /** Une conversation par son identifiant, telle que la liste la donne ; null si Crisp répond 404. */
        public Conversation one(String id) { return one(site("conversation/" + encode(id)), INFO.schema()); }

        /** Un élément demandé seul (conversation ou profil), ou null sur un 404. */
        static Conversation one(Http.Answer answer, Schema schema) {
            if (answer.status() == 404) return null;
            if (answer.status() >= 200 && answer.status() < 300 && answer.body().path("data").isObject())
                return Listed.of(schema, answer.body().path("data")).complete();
            throw refusal(answer);
        }

        /** Une page de messages, les plus récents avant {@code before} (borne incluse ou non : non documenté) ; null sur un 404. */
        Http.Answer messages(String sessionId, Long before) {
            Http.Answer answer = site("conversation/" + encode(sessionId) + "/messages" + (before == null ? "" : "?timestamp_before=" + before));
            if (answer.status() == 404) return null;
            if (answer.status() >= 200 && answer.status() < 300 && answer.body().path("data").isArray()) return answer;
            throw refusal(answer);
        }

        /** Un refus de Crisp en une phrase qui dit quoi faire. */
        static Failure refusal(Http.Answer answer) {
            String reason = answer.body().path("reason").asText("");
            String said = " (HTTP " + answer.status() + (reason.isEmpty() ? "" : " " + reason) + ")";
            return switch (answer.status()) {
                case 401 -> new Failure(Exit.AUTH, "Crisp refuse l'identifiant ou la clé" + said + " : vérifiez CRISP_IDENTIFIER_PROD et CRISP_KEY_PROD (jeton plugin de production).");
                case 403 -> new Failure(Exit.AUTH, "Crisp refuse l'accès" + said + " : le jeton n'a pas le droit website:conversation:sessions "
                        + "(ou website:conversation:messages pour les messages), ou le plugin n'est pas installé sur ce site.");
                case 404 -> new Failure(Exit.AUTH, "Crisp ne trouve pas ce site" + said + " : vérifiez ID_SITE_CRISP (et --base-url s'il est donné).");
                default -> new Failure(Exit.NETWORK, "Réponse inattendue de Crisp" + said + " : rien n'est perdu, relancez plus tard.");
            };
        }
    }

    /** Weba-AI : la liste ne donne qu'un aperçu, le dialogue complet demande une requête par conversation. */
    static final class Weba implements Source {
        static final int PER_PAGE = 100;
        // Pages qui se chevauchent : la liste n'a pas de départage, des lignes de même date changent de place d'une requête à l'autre.
        static final int OVERLAP = 10;
        /** Champ ajouté à une conversation écrite sans son dialogue, avec la raison. */
        static final String MISSING_FIELD = "conv_dialog_missing";
        static final SourceInfo INFO = new SourceInfo("weba", new Progress.Noun("conversation(s)", true, "Tout l'historique est exporté", "conv --source weba"),
                "https://cdn.weba-ai.com/api", 95, "weba-conversations.jsonl",
                List.of(new Variable("WEBA_AUTH_TOKEN", "le jeton d'authentification Weba-AI"),
                        new Variable("WEBA_BOT_HASH", "le hash du bot Weba-AI")),
                Schema.WEBA, "Weba-AI limite un jeton à 100 requêtes par minute et un autre programme utilise peut-être le même "
                        + "jeton : relancez dans quelques minutes, l'export reprendra là où il s'est arrêté.", true, Weba::new);

        private final Http http;
        private final String base;
        private final String botHash;
        private final Map<String, String> headers;

        Weba(Http http, String base, Map<String, String> values, int perPage) {     // perPage : Weba-AI sert toujours PER_PAGE
            this.http = http;
            this.base = base;
            this.botHash = values.get("WEBA_BOT_HASH");
            this.headers = Map.of("X-Auth-Token", values.get("WEBA_AUTH_TOKEN"));
        }

        public SourceInfo info() { return INFO; }
        public String account() { return botHash; }
        public Http http() { return http; }

        // Ordre « newest » : une conversation relancée remonte en tête et pousse les autres vers le bas, si bien qu'un
        // parcours par décalage peut revoir un élément, mais n'en saute pas. Avec « oldest », elle partirait en fin de
        // liste et tout ce qui la suit remonterait d'un cran : l'élément sous le curseur serait sauté.
        public Page list(long offset) {
            Http.Answer answer = call("limit=" + PER_PAGE + "&offset=" + offset + "&sort=newest");
            JsonNode body = answer.body();
            if (answer.status() == 200 && body.path("conversations").isArray()) {
                List<Listed> items = new ArrayList<>();
                body.path("conversations").forEach(node -> items.add(Listed.of(INFO.schema(), node)));
                // Sans « has_more », une page pleine laisse supposer une suite : mieux vaut une requête de trop qu'un arrêt trop tôt.
                JsonNode hasMore = body.path("pagination").path("has_more");
                boolean more = hasMore.isBoolean() ? hasMore.asBoolean() : items.size() >= PER_PAGE;
                return new Page(items, offset, offset + resumeAt(items), offset / (PER_PAGE - OVERLAP) + 1,
                        !more || items.isEmpty(), body.path("pagination").path("total").asLong(-1), answer.date());
            }
            throw refusal(answer);
        }

        // Où lire la suite : avec le chevauchement, et au plus tard au premier des ex aequo qui finissent la page (servis en
        // partie dans chaque page, dans un ordre tiré à chaque requête, certains ne le seraient jamais). Une page entière
        // d'ex aequo ne peut pas être contournée par décalage : on avance quand même.
        static int resumeAt(List<Listed> items) {
            int step = PER_PAGE - OVERLAP;
            if (items.isEmpty()) return step;
            long last = items.get(items.size() - 1).entry().walkKey();
            int first = items.size() - 1;
            while (first > 0 && items.get(first - 1).entry().walkKey() == last) first--;
            return first > 0 ? Math.min(step, first) : step;
        }

        public Conversation complete(Listed item) {
            String userId = item.node().path("user_id").asText("");
            if (userId.isEmpty()) return withoutDialog(item, "sans_user_id");
            Conversation found = one(userId);
            if (found == null) return withoutDialog(item, "introuvable");
            // La fiche est cherchée par visiteur : un visiteur qui a deux conversations peut en renvoyer une autre.
            return item.entry().id().equals(found.entry().id()) ? found : withoutDialog(item, "autre_conversation");
        }

        public Conversation one(String userId) {
            Http.Answer answer = call("user_id=" + encode(userId));
            if (answer.status() == 404 && "CONVERSATION_NOT_FOUND".equals(answer.body().path("code").asText())) return null;
            if (answer.status() != 200 || !answer.body().path("conversation").isObject()) throw refusal(answer);
            return Listed.of(INFO.schema(), answer.body().path("conversation")).complete();
        }

        /** L'élément de la liste tel quel, marqué : la conversation reste dans le fichier, même sans son dialogue. */
        private static Conversation withoutDialog(Listed item, String why) {
            ObjectNode marked = ((ObjectNode) item.node()).deepCopy().put(MISSING_FIELD, why);
            return new Conversation(item.entry(), Schema.bytes(marked), why);
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

    static String encode(String value) { return URLEncoder.encode(value, StandardCharsets.UTF_8); }

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
            long ceiling = Math.min(cap.toMillis(), base.toMillis() << Math.min(retry, 20));
            // Retry-After s'il est donné ; sinon l'attente exponentielle, dont la gigue évite que plusieurs clients repartent ensemble.
            Duration wait = retryAfter != null ? retryAfter : Duration.ofMillis(ceiling / 2 + ThreadLocalRandom.current().nextLong(ceiling / 2 + 1));
            return waitedSoFar.plus(wait).compareTo(maxTotalWait) > 0 ? Optional.empty() : Optional.of(wait);
        }
    }

    /** Espace les requêtes pour rester sous la limite de débit de l'API, au lieu de la heurter. */
    static final class Pacer {
        private final long intervalNanos;
        private long next = 0;

        Pacer(Integer requestsPerMinute) { intervalNanos = requestsPerMinute == null ? 0 : 60_000_000_000L / requestsPerMinute; }

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

    /** Taille maximale d'une réponse : mille fois une page ordinaire, et de quoi la lire sous un tas de 128 Mo. */
    static final int MAX_BODY = 32 << 20;

    // Limites de lecture choisies : une chaîne ne dépasse jamais la réponse entière ; 1 000 niveaux d'imbrication
    // (défaut de Jackson) suffisent à toute conversation réelle.
    static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
                .streamReadConstraints(StreamReadConstraints.builder().maxStringLength(MAX_BODY).maxNestingDepth(1000).build()).build())
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

    /** Les appels GET de tout conv ; une redirection n'est jamais suivie : les identifiants ne partent pas vers une autre adresse. */
    static final class Http {
        /** Une réponse définitive (succès ou refus) ; body : MissingNode si ce n'est pas du JSON ; date : l'en-tête Date, ou null. */
        record Answer(int status, JsonNode body, Instant date) implements Outcome { }

        /** Ce que l'on fait d'une réponse ou d'un échec réseau : l'ensemble des cas est fermé. */
        sealed interface Outcome permits Answer, RateLimited, Transient { }
        record RateLimited(int status, Duration retryAfter) implements Outcome { }
        record Transient(String why) implements Outcome { }

        // Créé au premier envoi. HTTP/1.1 : une requête à la fois n'a rien à gagner de HTTP/2, et un échange annulé y ferme sa connexion.
        private static final class Client {
            static final HttpClient INSTANCE = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).followRedirects(HttpClient.Redirect.NEVER).build();
        }

        private final Duration timeout;
        private final RetryPolicy retry;
        private final Pacer pacer;
        private final String rateLimitAdvice;
        private int requests, calls;

        Http(Duration timeout, RetryPolicy retry, Pacer pacer, String rateLimitAdvice) {
            this.timeout = timeout;
            this.retry = retry;
            this.pacer = pacer;
            this.rateLimitAdvice = rateLimitAdvice;
        }

        // Avant la sortie : la JVM attend un moment tout fil pris dans un appel natif, comme le fil qui guette le
        // réseau pour le client ; interrompu, il s'arrête (HttpClient.close() n'existe qu'à partir de Java 21).
        static void release() {
            Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().matches("HttpClient-\\d+-SelectorManager")).forEach(Thread::interrupt);
        }

        int requests() { return requests; }
        /** Les appels demandés, sans leurs nouveaux essais : ce que --max-requests borne (une requête reçue est traitée). */
        int calls() { return calls; }

        Answer get(URI uri, Map<String, String> headers) {
            calls++;
            Duration waited = Duration.ZERO;
            for (int attempt = 0; ; attempt++) {
                pacer.await();
                requests++;
                Outcome outcome = send(uri, headers);
                if (outcome instanceof Answer answer) return answer;
                Duration retryAfter = outcome instanceof RateLimited r ? r.retryAfter() : null;
                Optional<Duration> wait = retry.delay(attempt, waited, retryAfter);
                if (wait.isEmpty()) throw giveUp(outcome, uri, attempt + 1);
                sleep(wait.get());
                waited = waited.plus(wait.get());
            }
        }

        private Outcome send(URI uri, Map<String, String> headers) {
            HttpRequest.Builder request = HttpRequest.newBuilder(uri).header("User-Agent", "conv/2.1 (export de conversations)")
                    .header("Accept", "application/json");
            headers.forEach(request::header);
            CompletableFuture<HttpResponse<byte[]>> exchange = Client.INSTANCE.sendAsync(request.build(), info -> cappedBody());
            HttpResponse<byte[]> response;
            try {
                // Le délai vaut pour la réponse entière : à l'échéance, l'échange est annulé et sa connexion fermée.
                response = exchange.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                return new Transient("pas de réponse complète dans le délai imparti");
            } catch (ExecutionException e) {
                for (Throwable cause = e.getCause(); cause != null; cause = cause.getCause()) if (cause instanceof Failure f) throw f;
                return new Transient("connexion impossible ou interrompue");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Failure(Exit.NETWORK, "Export interrompu pendant une requête : rien n'est perdu, relancez.");
            } finally {
                exchange.cancel(true);      // sans effet sur un échange terminé
            }
            int status = response.statusCode();
            java.net.http.HttpHeaders head = response.headers();
            Instant date = date(head.firstValue("Date").orElse(null));
            if (status >= 300 && status < 400) throw redirected(status, head.firstValue("Location").orElse(null));
            if (status == 429 || status == 420) return new RateLimited(status, retryAfter(head.firstValue("Retry-After").orElse(null), date));
            if (status >= 500) return new Transient("erreur du serveur (HTTP " + status + ")");
            JsonNode parsed = parse(response.body());
            // Une page HTML d'un proxy à la place d'une réponse réussie est passagère ; un refus (4xx) se lit à son code.
            if (parsed == null && status < 400) return new Transient("réponse illisible (pas du JSON, HTTP " + status + ")");
            return new Answer(status, parsed == null ? JSON.missingNode() : parsed, date);
        }

        /** Le corps, borné pendant la lecture : au-delà de MAX_BODY, ce n'est pas une page de conversations. */
        private static HttpResponse.BodySubscriber<byte[]> cappedBody() {
            java.io.ByteArrayOutputStream received = new java.io.ByteArrayOutputStream();
            return HttpResponse.BodySubscribers.mapping(HttpResponse.BodySubscribers.ofByteArrayConsumer(chunk -> chunk.ifPresent(bytes -> {
                received.writeBytes(bytes);
                // L'échec termine l'échange (vérifié par les tests sous Java 17 et 25), que send annule : la connexion est fermée, le reste jamais lu.
                if (received.size() > MAX_BODY) throw new Failure(Exit.NETWORK, "L'API a envoyé une réponse de plus de " + (MAX_BODY >> 20)
                        + " Mo, ce qui n'est pas une page de conversations : l'export s'arrête sans réessayer, rien n'est perdu ; signalez-le.");
            })), done -> received.toByteArray());
        }

        private static JsonNode parse(byte[] body) {
            try {
                JsonNode node = JSON.readTree(body);
                return node != null && node.isObject() ? node : null;
            } catch (StreamConstraintsException e) {
                throw new Failure(Exit.NETWORK, "L'API a envoyé un JSON au-delà des limites de lecture de conv (chaîne de plus de "
                        + (MAX_BODY >> 20) + " Mo ou plus de 1 000 niveaux d'imbrication) : l'export s'arrête sans réessayer, "
                        + "rien n'est perdu ; signalez-le.");
            } catch (IOException e) {
                return null;
            }
        }

        private static Failure redirected(int status, String location) {
            String where = "";
            try {
                URI target = location == null ? null : URI.create(location);
                if (target != null && target.getHost() != null) where = " vers " + target.getScheme() + "://" + target.getAuthority();
            } catch (IllegalArgumentException unreadable) { /* adresse illisible : on n'en dit rien */ }
            return new Failure(Exit.NETWORK, "L'API a répondu par une redirection (HTTP " + status + where + ") : conv ne suit jamais "
                    + "une redirection, pour que vos identifiants ne partent pas ailleurs ; vérifiez --base-url.");
        }

        /** Une date HTTP (RFC 1123), null si elle manque ou est illisible. */
        static Instant date(String header) {
            try {
                return header == null ? null : ZonedDateTime.parse(header.strip(), DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
            } catch (DateTimeParseException unreadable) {
                return null;
            }
        }

        /** Retry-After en secondes ou en date, celle-ci lue sur l'horloge du serveur quand il donne la sienne. */
        static Duration retryAfter(String header, Instant serverNow) {
            if (header == null) return null;
            try {
                return Duration.ofSeconds(Math.max(0, Long.parseLong(header.strip())));
            } catch (NumberFormatException notSeconds) {
                Instant at = date(header);
                if (at == null) return null;
                Duration wait = Duration.between(serverNow != null ? serverNow : Instant.now(), at);
                return wait.isNegative() ? Duration.ZERO : wait;
            }
        }

        private Failure giveUp(Outcome outcome, URI uri, int attempts) {
            String tries = attempts + (attempts > 1 ? " essais" : " essai");
            if (outcome instanceof RateLimited r) {
                String when = r.retryAfter() == null ? "" : " (l'API demande d'attendre jusqu'à "
                        + DateTimeFormatter.ofPattern("dd/MM HH:mm").format(ZonedDateTime.now().plus(r.retryAfter())) + ")";
                return new Failure(Exit.QUOTA, "Limite de l'API atteinte (HTTP " + r.status() + ") après " + tries + when + " : " + rateLimitAdvice);
            }
            return new Failure(Exit.NETWORK, "L'API " + uri.getScheme() + "://" + uri.getAuthority() + " ne répond pas correctement après " + tries + " ("
                    + ((Transient) outcome).why() + ") : ce qui était exporté est enregistré, relancez plus tard.");
        }
    }

    // ------------------------------------------------------------------ parcours de la liste

    // Un parcours vers le bas depuis offset, jusqu'à une clé de parcours sous floor (null : jusqu'à la fin de la liste) ;
    // refresh : il met à jour ce qui a changé (--full-refresh), même dans une exécution sans --refresh.
    record Walk(Long floor, long offset, boolean refresh) { }

    /** L'état de reprise (FICHIER.state.json) ; refreshedTo : clé jusqu'où les changements sont appliqués (null : inconnu) ; recover : lignes à redemander. */
    record State(int format, String source, String account, Long watermark, Long refreshedTo, List<Walk> walks, List<String> recover, String savedAt) {
        static final int FORMAT = 3;
        static State fresh(String source, String account) { return new State(FORMAT, source, account, null, null, List.of(), List.of(), null); }
    }

    /** Les compteurs d'une exécution. */
    static final class Totals {
        int exported, updated, alreadyPresent, withoutId, withoutDialog, pagesAfterDisorder;
        boolean refreshing;
        int ignored() { return alreadyPresent + withoutId; }
    }

    /** Ce qu'une exécution a fait : compteurs, requêtes, historique complet ou non, et l'arrêt qui l'a interrompue s'il y en a un. */
    record RunResult(Totals totals, int requests, int retries, boolean complete, Failure stop) { }

    /**
     * Le plan des parcours, sans HTTP ni disque. La liste est demandée triée par clé de parcours (date de mise à jour)
     * décroissante et bouge pendant qu'on la lit : une conversation nouvelle ou modifiée remonte en tête avec une clé
     * plus récente que tout ce qui a été vu. D'où deux sortes de parcours : le premier descend tout l'historique ;
     * ensuite, chaque exécution qui voit en page 1 une clé au-dessus du filigrane (la plus récente déjà vue) ajoute un
     * parcours de tête qui descend jusqu'au filigrane (avec --refresh, jusqu'à refreshedTo). L'ordre est vérifié page à
     * page, page 1 comprise : un désordre au-delà de la marge empêche la page de terminer un parcours, qui continue alors
     * jusqu'à la fin de l'historique. Les dates sont jugées à l'heure du serveur (en-tête Date), à défaut à la nôtre.
     */
    static final class WalkPlan {
        // Les pages de Crisp peuvent venir d'un cache un peu ancien : on tolère ce décalage, et le parcours de tête descend d'autant.
        static final long MARGIN_MS = 60_000;

        private final Deque<Walk> walks;
        private final List<String> recover;
        private long now;
        private Long watermark, refreshedTo;
        private boolean begun, currentDisordered, disorderSeen, urgent, distrusted;

        WalkPlan(State state, long now) {
            this.walks = new ArrayDeque<>(state.walks());
            this.recover = new ArrayList<>(state.recover());
            this.now = now;
            this.watermark = state.watermark();
            this.refreshedTo = state.refreshedTo();
        }

        /** La page 1 décide : au premier lancement, tout l'historique ; ensuite, un parcours de tête si elle montre du nouveau. Vrai si aucune date n'y est plausible. */
        boolean begin(Page first, boolean refresh, boolean fullRefresh) {
            if (first.date() != null) now = first.date().toEpochMilli();
            // Un filigrane dans le futur (état abîmé) cacherait tout : il est borné à maintenant.
            if (watermark != null) watermark = Math.min(watermark, now + MARGIN_MS);
            long top = Long.MIN_VALUE, lowest = Long.MAX_VALUE;
            boolean fresh = !inOrder(List.of(), first.items());     // hors d'ordre, elle ne prouve pas qu'il n'y a rien de neuf plus bas
            for (Listed item : first.items()) {
                long key = item.entry().walkKey();
                // Une clé absente ne dit rien de la place de la conversation : on descend pour la voir.
                if (key == Entry.MISSING || watermark != null && key > watermark) fresh = true;
                if (key != Entry.MISSING) lowest = Math.min(lowest, key);
                // Une seule date dans le futur ne doit pas emporter le filigrane : seules comptent les dates plausibles.
                if (key != Entry.MISSING && key <= now + MARGIN_MS) top = Math.max(top, key);
            }
            // Aucune date plausible : le filigrane reste, ou (premier lancement) prend la plus basse, jamais 0.
            boolean implausible = top == Long.MIN_VALUE && lowest != Long.MAX_VALUE;
            boolean full = fullRefresh && walks.stream().noneMatch(w -> w.refresh() && w.floor() == null), firstRun = watermark == null;
            boolean behind = refresh && !firstRun && (refreshedTo == null || refreshedTo < watermark);
            if (firstRun || full) head(null, refresh);
            else if (behind) head(refreshedTo == null ? null : refreshedTo - MARGIN_MS, true);
            else if (fresh || distrusted) head(watermark - MARGIN_MS, refresh);     // ordre refusé : la page 1 ne prouve rien
            watermark = watermark != null ? Math.max(watermark, top) : implausible ? lowest : Math.max(top, 0);
            if (refresh || firstRun) refreshedTo = watermark;      // un premier export écrit chaque conversation à jour
            begun = true;
            return implausible;
        }

        /** Un parcours de tête ; un parcours déjà en tête de liste est fusionné avec lui (la page 1 n'est pas relue deux fois). */
        private void head(Long floor, boolean refresh) {
            Walk there = walks.isEmpty() || walks.peekFirst().offset() != 0 ? new Walk(floor, 0, refresh) : walks.removeFirst();
            walks.addFirst(new Walk(floor == null || there.floor() == null ? null : Math.min(floor, there.floor()), 0, refresh || there.refresh()));
        }

        /** L'API a refusé l'ordre demandé : aucun parcours ne s'arrête avant la fin de la liste. */
        void distrust() { distrusted = true; }
        boolean hasWalk() { return !walks.isEmpty(); }
        List<String> recover() { return recover; }
        Walk current() { return walks.peekFirst(); }
        boolean begun() { return begun; }

        /** Vrai une fois après qu'un parcours a perdu son plancher : l'état doit le dire sans attendre. */
        boolean takeUrgent() { boolean was = urgent; urgent = false; return was; }
        boolean complete() { return begun && walks.isEmpty(); }
        boolean disorderSeen() { return disorderSeen; }

        /**
         * Après une page du parcours courant : vrai si ce parcours est fini. Sinon il est gardé à cette page, que la
         * reprise relira (ce qu'une suppression en amont aurait fait remonter n'est pas perdu).
         * {@code previous} : la page précédente de ce parcours dans cette exécution (vide au départ).
         */
        boolean afterPage(Page page, List<Listed> previous, boolean stoppedInside, Totals totals) {
            Walk walk = walks.removeFirst();
            Long floor = distrusted ? null : walk.floor();
            if (!inOrder(previous, page.items())) {
                disorderSeen = true;
                if (floor != null) currentDisordered = urgent = true;
                floor = null;   // plus rien ne garantit que la suite soit plus ancienne : on va jusqu'au bout
            }
            if (currentDisordered || distrusted) totals.pagesAfterDisorder++;
            // Une clé absente (MISSING, la plus petite de toutes) ne prouve pas que la page soit sous le plancher.
            long lowest = page.items().stream().mapToLong(i -> i.entry().walkKey()).min().orElse(Long.MAX_VALUE);
            boolean ended = !stoppedInside && (page.last() || floor != null && lowest != Entry.MISSING && lowest < floor);
            if (ended) currentDisordered = false;
            else walks.addFirst(new Walk(floor, page.offset(), walk.refresh()));
            return ended;
        }

        State state(String source, String account) {
            return new State(State.FORMAT, source, account, watermark, refreshedTo, List.copyOf(walks), List.copyOf(recover), Instant.ofEpochMilli(now).toString());
        }

        /**
         * Vrai si la page continue l'ordre décroissant de la clé de parcours, à la marge près, couture avec la page
         * précédente comprise. Une conversation revue avec la même clé n'est qu'un décalage de la liste : ignorée.
         */
        static boolean inOrder(List<Listed> previous, List<Listed> page) {
            Set<String> seen = new HashSet<>();
            long low = Long.MAX_VALUE;
            for (Listed item : previous) {
                seen.add(item.entry().id() + "@" + item.entry().walkKey());
                if (item.entry().walkKey() != Entry.MISSING) low = Math.min(low, item.entry().walkKey());
            }
            for (Listed item : page) {
                long key = item.entry().walkKey();
                if (key == Entry.MISSING || seen.contains(item.entry().id() + "@" + key)) continue;
                if (low != Long.MAX_VALUE && key - MARGIN_MS > low) return false;
                low = Math.min(low, key);
            }
            return true;
        }
    }

    /** Le cœur de l'export : suit le plan des parcours page après page, trie chaque élément, confie les lignes au fichier. */
    static final class Exporter {
        static final int FLUSH_EVERY = 20;
        // Un état par seconde au plus : trois écritures forcées par page limitaient un export rapide. Un état en
        // retard ne fait que relire quelques pages à la reprise ; il n'est jamais en avance sur les lignes écrites.
        static final long CHECKPOINT_NANOS = 1_000_000_000L;

        private final Source source;
        private final Store store;
        private final Progress progress;
        private final ListOptions options;
        private final Totals totals = new Totals();
        private final BitSet seen = new BitSet();           // lignes du fichier dont la conversation a été revue dans cette exécution
        private long lastCheckpoint;

        Exporter(Source source, Store store, Progress progress, ListOptions options) {
            this.source = source;
            this.store = store;
            this.progress = progress;
            this.options = options;
            totals.refreshing = options.refresh();
        }

        /** Exporte jusqu'à une limite ou la fin ; un arrêt de l'API (quota, panne, refus) est rendu dans le résultat. */
        RunResult run(State saved, long now) {
            WalkPlan plan = new WalkPlan(saved, now);
            progress.start(options.limit);
            Failure stop = null;
            try {
                Page first = fetch(0, List.of(), plan);
                if (plan.begin(first, options.refresh(), options.fullRefresh)) progress.note("Attention : les dates de la page 1 sont toutes futures (heure du serveur) : le filigrane les ignore.");
                checkpoint(plan, true);
                recover(plan);
                if (!plan.hasWalk() || plan.current().offset() != 0)     // page 1 lue seule : comptée, rien n'est écrit ni tracé
                    for (Listed i : first.items())
                        if (i.entry().id() == null || store.status(i.entry()) != KnownIds.Status.NEW) countIgnored(i.entry());
                walkAll(plan, first);
            } catch (Failure f) {
                if (!f.exit.stopsApiCalls()) throw f;
                stop = f;
            }
            if (plan.begun()) checkpoint(plan, true);
            if (plan.disorderSeen()) progress.disorder(totals.pagesAfterDisorder);
            Http http = source.http();
            return new RunResult(totals, http.requests(), http.requests() - http.calls(), plan.complete(), stop);
        }

        private void walkAll(WalkPlan plan, Page first) {
            while (plan.hasWalk() && totals.exported < options.limit) {
                Walk walk = plan.current();
                List<Listed> previous = List.of();
                long at = walk.offset();
                boolean ended = false;
                while (!ended && totals.exported < options.limit) {
                    // La page 1 déjà reçue est toujours traitée ; une autre page n'est demandée que s'il reste une requête.
                    if ((at != 0 || first == null) && !requestLeft()) return;
                    Page page = at == 0 && first != null ? first : fetch(at, previous, plan);
                    first = null;
                    boolean stoppedInside = take(page, previous, options.refresh() || walk.refresh());
                    ended = plan.afterPage(page, previous, stoppedInside, totals);
                    checkpoint(plan, plan.takeUrgent());
                    progress.page(page.number(), totals, store.count(), page.total(), source.http().requests());
                    previous = page.items();
                    at = page.next();
                }
            }
        }

        /** Plus d'élément à traiter dans la page : --nb atteint, ou (Weba-AI, une fiche par conversation) plus une requête. */
        private boolean itemLimitReached() { return totals.exported >= options.limit || source.info().detailRequest() && !requestLeft(); }

        private boolean requestLeft() { return options.maxRequests == null || source.http().calls() < options.maxRequests; }

        /** Une page ; celle qui répète la précédente à l'identique sous un autre numéro arrête tout, sans épuiser le quota. */
        private Page fetch(long offset, List<Listed> previous, WalkPlan plan) {
            Page page = source.list(offset);
            if (!source.ordered()) plan.distrust();
            if (!previous.isEmpty() && ids(page.items()).equals(ids(previous)))
                throw new Failure(Exit.NETWORK, "L'API renvoie la même page pour deux numéros de page différents (page " + page.number()
                        + ") : l'export s'arrête pour ne pas épuiser le quota ; rien n'est perdu, relancez plus tard ou signalez-le.");
            return page;
        }

        private static List<String> ids(List<Listed> items) { return items.stream().map(i -> i.entry().id()).toList(); }

        /** Traite les éléments d'une page ; vrai si une limite l'a arrêtée en son milieu. */
        private boolean take(Page page, List<Listed> previous, boolean refresh) {
            Set<String> skip = new HashSet<>(ids(previous));
            List<Conversation> batch = new ArrayList<>();
            try {
                for (Listed item : page.items()) {
                    if (itemLimitReached()) { flush(batch); return true; }
                    // Revue de la page précédente (chevauchement voulu, ou liste décalée) : déjà traitée dans cette exécution.
                    if (item.entry().id() != null && !skip.add(item.entry().id())) continue;
                    Conversation conversation = consider(item, refresh);
                    if (conversation != null) batch.add(conversation);
                    // Une page Weba-AI coûte 100 requêtes, plus d'une minute : on écrit par paquets pour qu'un arrêt n'en perde pas le travail.
                    if (batch.size() >= FLUSH_EVERY) flush(batch);
                    progress.during(page.number(), totals, store.count(), page.total(), source.http().requests());
                }
            } catch (Failure stop) {
                // Quota, panne ou refus au milieu d'une page : les fiches déjà reçues sont écrites, pas jetées.
                if (stop.exit.stopsApiCalls()) flush(batch);
                throw stop;
            }
            flush(batch);
            return false;
        }

        /** Ce qu'il faut écrire pour cet élément, ou null ; les compteurs disent pourquoi. */
        private Conversation consider(Listed item, boolean refresh) {
            Entry entry = item.entry();
            if (entry.id() == null) { countIgnored(entry); return null; }
            KnownIds.Status status = store.status(entry);
            if (status == KnownIds.Status.SAME || status == KnownIds.Status.NEWER && !refresh) {
                store.seen(entry, status);
                countIgnored(entry);
                return null;
            }
            Conversation conversation = source.complete(item);
            if (conversation.missing() != null) totals.withoutDialog++;
            if (status == KnownIds.Status.NEW) { totals.exported++; return conversation; }
            // Une mise à jour sans dialogue ne remplace pas une ligne qui l'avait peut-être.
            if (conversation.missing() != null) return null;
            totals.updated++;
            return conversation;
        }

        /** Un élément ignoré : sans identifiant, ou déjà dans le fichier, compté la première fois qu'il est revu dans l'exécution (un bit par ligne). */
        private void countIgnored(Entry entry) {
            if (entry.id() == null) { totals.withoutId++; return; }
            int line = store.lineOf(entry.id());
            if (line < 0 || seen.get(line)) return;
            seen.set(line);
            totals.alreadyPresent++;
        }

        /** Les conversations des lignes retirées par la réparation, redemandées une à une ; elles quittent l'état une fois écrites. */
        private void recover(WalkPlan plan) {
            int asked = 0, written = 0;
            for (var pending = plan.recover().iterator(); pending.hasNext() && requestLeft(); asked++) {
                Conversation found = source.one(pending.next());
                pending.remove();     // l'état qui l'oublie n'est écrit qu'après la ligne
                if (found != null && found.entry().id() != null && store.status(found.entry()) != KnownIds.Status.SAME) { store.accept(List.of(found)); written++; }
            }
            Progress.Noun noun = progress.noun();
            if (asked > 0) progress.note("Lignes réparées : " + asked + " " + noun.plural() + " " + noun.agree("redemandé(s)") + ", " + written + " "
                    + noun.agree("réécrit(s)") + (asked > written ? ", les autres à jour ou " + noun.agree("supprimé(s)") + "." : "."));
        }

        private void flush(List<Conversation> batch) {
            store.accept(batch);
            batch.clear();
        }

        private void checkpoint(WalkPlan plan, boolean now) {
            if (!now && System.nanoTime() - lastCheckpoint < CHECKPOINT_NANOS) return;
            store.checkpoint(plan.state(source.info().name(), source.account()));
            lastCheckpoint = System.nanoTime();
        }
    }

    // ------------------------------------------------------------------ format des lignes

    /**
     * {@code sortKey} : l'ordre du fichier (dernière activité, comme le veut la spécification) ; {@code walkKey} : celui de la
     * liste de l'API (mise à jour), qui dit si une version est plus récente ; {@code sortText} : le texte trié entier, si la clé n'en garde que le début.
     */
    record Entry(String id, long sortKey, long walkKey, String sortText) {
        static final long MISSING = Long.MIN_VALUE;
        static final Entry NONE = new Entry(null, MISSING, MISSING);
        static final Comparator<Entry> ORDER = (a, b) -> compare(a.sortKey, a::tieBreak, b.sortKey, b::tieBreak);

        Entry(String id, long sortKey, long walkKey) { this(id, sortKey, walkKey, null); }

        /** Ce qui départage deux clés de tri égales : le texte trié en entier s'il y en a un, puis l'identifiant. */
        String tieBreak() { return sortText == null ? id : sortText + '\0' + id; }

        /** Clé décroissante (sans clé à la fin), puis tieBreak, lu seulement à égalité : la fusion ne relit pas les lignes pour rien. */
        static int compare(long keyA, java.util.function.Supplier<String> idA, long keyB, java.util.function.Supplier<String> idB) {
            int byKey = Long.compare(keyB, keyA);
            return byKey != 0 ? byKey : idA.get().compareTo(idB.get());
        }
    }

    /** Où lire une clé : un champ, au premier niveau ou dans un objet ; date en millisecondes ou en ISO 8601, ou texte. */
    record KeyPath(String object, String field, boolean iso, boolean text) {
        KeyPath(String object, String field, boolean iso) { this(object, field, iso, false); }
        boolean at(String objectName, String fieldName) { return java.util.Objects.equals(object, objectName) && field.equals(fieldName); }
    }

    /** Où trouver l'identifiant, la clé de tri et la clé de parcours ; lookupField : ce que Source.one demande (Weba-AI : le visiteur). */
    record Schema(String idField, KeyPath sort, KeyPath walk, String lookupField) {
        Schema(String idField, KeyPath sort, KeyPath walk) { this(idField, sort, walk, idField); }
        static final Schema CRISP = new Schema("session_id", new KeyPath("active", "last", false), new KeyPath(null, "updated_at", false));
        static final Schema WEBA = new Schema("id", new KeyPath(null, "last_message_at", true), new KeyPath(null, "last_message_at", true), "user_id");
        static final Schema PEOPLE = new Schema("people_id", new KeyPath(null, "email", false, true), new KeyPath(null, "updated_at", false));
        private static final StreamReadConstraints LIMITS = StreamReadConstraints.builder().maxStringLength(Integer.MAX_VALUE).maxNestingDepth(1000).build();
        // Une ligne que la lecture en octets refuse (UTF-8 invalide : octet 0xFF, suite tronquée…) est relue ici, décodée avec « � ».
        private static final JsonFactory DECODING = JsonFactory.builder().disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES)
                .streamReadConstraints(LIMITS).build();
        // Jackson ne lit les octets sans les décoder en caractères qu'avec une table de noms (une clé répétée n'est décodée
        // qu'une fois). Neuve toutes les 64 lignes : chaque clé nouvelle (données propres à une conversation) la recopie en entier.
        private static JsonFactory names = withNameTable();
        private static int linesRead;

        static byte[] bytes(JsonNode node) {
            try {
                return JSON.writeValueAsBytes(node);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }

        /** Lit et valide une ligne en flux, sans arbre ; null si ce n'est pas un objet JSON, id nul s'il manque, MISSING pour une clé absente. */
        Entry read(byte[] buf, int off, int len) {
            if (++linesRead % 64 == 0) names = withNameTable();
            Entry entry = read(names, buf, off, len);
            return entry != null ? entry : read(DECODING, buf, off, len);
        }

        private static JsonFactory withNameTable() {
            return JsonFactory.builder().disable(JsonFactory.Feature.INTERN_FIELD_NAMES).streamReadConstraints(LIMITS).build();
        }

        private Entry read(JsonFactory factory, byte[] buf, int off, int len) {
            try (JsonParser p = factory.createParser(buf, off, len)) {
                if (p.nextToken() != JsonToken.START_OBJECT) return null;
                String id = null, text = null;
                long[] keys = {Entry.MISSING, Entry.MISSING};   // tri, parcours
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    JsonToken value = p.nextToken();
                    if (name.equals(idField) && (value == JsonToken.VALUE_STRING || value == JsonToken.VALUE_NUMBER_INT)) {
                        id = p.getText().isEmpty() ? null : p.getText();
                    } else if (value == JsonToken.START_OBJECT && (name.equals(sort.object()) || name.equals(walk.object()))) {
                        while (p.nextToken() == JsonToken.FIELD_NAME) {
                            String inner = p.currentName();
                            text = readKeys(p, p.nextToken(), name, inner, keys, text);
                        }
                    } else {
                        text = readKeys(p, value, null, name, keys, text);
                    }
                }
                if (p.currentToken() != JsonToken.END_OBJECT || p.nextToken() != null) return null;
                return new Entry(id, keys[0], keys[1], text);
            } catch (IOException e) {
                return null;
            }
        }

        /** Lit la valeur courante comme clé de tri et/ou de parcours si elle est à leur place, sinon la saute ; rend le texte trié. */
        private String readKeys(JsonParser p, JsonToken value, String object, String field, long[] keys, String text) throws IOException {
            boolean isSort = sort.at(object, field), isWalk = walk.at(object, field);
            if (!isSort && !isWalk) { p.skipChildren(); return text; }
            KeyPath path = isSort ? sort : walk;
            if (path.text()) text = value == JsonToken.VALUE_STRING && !p.getText().isBlank() ? p.getText().toLowerCase(Locale.ROOT) : null;
            long key = !path.text() ? keyOf(p, value, path.iso()) : text != null ? textKey(text) : Entry.MISSING;
            p.skipChildren();   // sans effet sur une valeur simple ; une adresse objet ou tableau est sautée
            if (isSort) keys[0] = key;
            if (isWalk) keys[1] = key;
            return text;
        }

        private static long keyOf(JsonParser p, JsonToken value, boolean iso) throws IOException {
            if (!iso && value == JsonToken.VALUE_NUMBER_INT) {
                try {
                    return p.getLongValue();
                } catch (InputCoercionException beyondLong) {
                    // Un nombre au-delà d'un long : une date très lointaine (positive) ou absurde (négative).
                    return p.getBigIntegerValue().signum() > 0 ? Long.MAX_VALUE : Entry.MISSING;
                }
            }
            if (!iso && value == JsonToken.VALUE_NUMBER_FLOAT) return (long) p.getDoubleValue();
            if (iso && value == JsonToken.VALUE_STRING) return isoMillis(p.getText());
            return Entry.MISSING;
        }

        /** Un texte en minuscules, croissant parmi des clés décroissantes : ses 7 premiers octets UTF-8, retournés (la suite départage). */
        static long textKey(String text) {
            byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
            long prefix = 0;
            for (int i = 0; i < 7; i++) prefix = prefix << 8 | (i < bytes.length ? bytes[i] & 0xff : 0);
            return (1L << 56) - 1 - prefix;
        }

        static long isoMillis(String text) {
            try {
                return OffsetDateTime.parse(text).toInstant().toEpochMilli();
            } catch (DateTimeParseException e) {
                try {
                    // « 2025-01-09 14:00:00 », tel qu'une base MySQL le rend parfois : lu comme UTC.
                    return java.time.LocalDateTime.parse(text.replace(' ', 'T')).atZone(ZoneId.of("UTC")).toInstant().toEpochMilli();
                } catch (DateTimeParseException unreadable) {
                    return Entry.MISSING;
                }
            }
        }
    }

    // ------------------------------------------------------------------ le fichier d'export

    /** Ce que l'exportateur voit du fichier ; une pièce par tâche : ExportFiles, StateFile, Journal, KnownIds, Index, SortedRewrite. */
    static final class Store implements AutoCloseable {
        static final long DEFAULT_CHUNK_BYTES = 16L << 20;

        private final ExportFiles files;
        private final Schema schema;
        private final Progress progress;
        private final Journal journal;
        // FICHIER.moved : les conversations vues plus récentes que leur ligne gardée telle quelle, pour conv messages.
        private final Journal moved;
        private final long chunkBytes;
        private State state;
        private KnownIds ids = new KnownIds(0);
        private LongList keys = new LongList();            // clé de tri de chaque ligne lue au démarrage
        private LongList offsets = new LongList();         // … et sa position dans le fichier (pour recopier par blocs)
        private final BitSet dropped = new BitSet();       // lignes à ne pas recopier : illisibles, vides, anciennes versions
        private final BitSet aside = new BitSet();         // … dont celles à mettre de côté dans FICHIER.rejected
        private long lines, sortedLines, sortedBytes;      // lignes du fichier ; les [0, sortedLines) sont dans l'ordre
        private boolean indexed;

        private Store(ExportFiles files, Schema schema, Progress progress, long chunkBytes) {
            this.files = files;
            this.schema = schema;
            this.progress = progress;
            this.journal = new Journal(files.file);
            this.moved = new Journal(ExportFiles.sibling(files.file, ".moved"));
            this.chunkBytes = chunkBytes;
        }

        /** Verrouille, efface au besoin (--reset), lit et valide l'état, vérifie les droits, puis lit le fichier. */
        static Store open(Path requested, SourceInfo info, String account, Progress progress, boolean reset, long chunkBytes) {
            ExportFiles files = ExportFiles.lock(requested);
            try {
                if (reset) files.erase(progress);
                files.removeLeftovers();
                Store store = new Store(files, info.schema(), progress, chunkBytes);
                store.state = store.readState(info, account);
                files.checkWritable();
                store.load();
                // FICHIER.moved : ce qui reste plus récent que sa ligne, compacté au-delà de 1 Mo plus une ligne par conversation (pas à chaque exécution).
                store.moved.compact(store.schema, (1 << 20) + 100L * store.ids.size(), e -> store.ids.status(e) == KnownIds.Status.NEWER);
                return store;
            } catch (IOException | RuntimeException e) {
                files.close();
                throw e instanceof IOException io ? Io.fileFailure("lire " + files.file, io) : (RuntimeException) e;
            }
        }

        Path file() { return files.file; }
        State state() { return state; }
        long count() { return ids.size(); }
        boolean indexed() { return indexed; }
        KnownIds.Status status(Entry entry) { return ids.status(entry); }
        int lineOf(String id) { return ids.lineOf(id); }

        /** Ajoute des lignes, forcées sur le disque ; un identifiant n'est connu qu'une fois sa ligne écrite. */
        void accept(List<Conversation> batch) {
            if (batch.isEmpty()) return;
            journal.append(batch.stream().map(Conversation::bytes).toList());
            for (Conversation conversation : batch) {
                int previous = ids.put(conversation.entry(), (int) lines++);
                if (previous >= 0) dropped.set(previous);     // l'ancienne version disparaîtra au tri final
            }
        }

        /** Une conversation connue qui n'est pas réécrite : plus récente que sa ligne (Crisp), la commande messages le lira dans FICHIER.moved. */
        void seen(Entry entry, KnownIds.Status status) {
            if (status == KnownIds.Status.NEWER && schema == Schema.CRISP)
                moved.append(List.of(Schema.bytes(JSON.createObjectNode().put("session_id", entry.id()).put("updated_at", entry.walkKey()))));
        }

        /** L'état, écrit après que les lignes auxquelles il se réfère sont forcées sur le disque. */
        void checkpoint(State next) {
            moved.sync();
            journal.sync();
            try {
                StateFile.save(files.state, next);
                state = next;
            } catch (IOException e) {
                throw Io.fileFailure("enregistrer l'état " + files.state, e);
            }
        }

        /** Réécrit le fichier trié, sans doublon ni ligne illisible, si et seulement si c'est nécessaire ; puis l'index. */
        void finish() {
            journal.close();
            if (!Files.exists(files.file)) return;
            boolean clean = sortedLines == lines && dropped.isEmpty();     // un ajout rend lines > sortedLines
            try {
                if (!clean) new SortedRewrite().run();
                if (!clean || !indexed) Index.save(files.index, files.file, ids, keys, offsets);
            } catch (IOException e) {
                throw Io.fileFailure("trier " + files.file + " (ce qui est exporté y est déjà, le tri sera refait à la prochaine exécution)", e);
            } finally {
                Io.deleteTree(files.sortDir);
            }
        }

        @Override
        public void close() {
            journal.close();
            moved.close();
            files.close();
        }

        private State readState(SourceInfo info, String account) throws IOException {
            StateFile.Loaded loaded = StateFile.read(files.state, files.file, info, account);
            if (loaded == null) {
                // Sans état, un fichier dont la première ligne n'est pas une conversation de cette source est refusé avant toute lecture.
                Entry first = journal.first(schema);
                if (first != null && first.id() == null)
                    throw new Failure(Exit.CONFIG, files.file + " ne ressemble pas à un export " + info.name() + " (sa première ligne n'a pas de champ "
                            + schema.idField() + ") : choisissez un autre fichier avec --output.");
                return State.fresh(info.name(), account);
            }
            if (loaded.state().watermark() != null && (!Files.exists(files.file) || Files.size(files.file) == 0)) {
                // Fichier effacé ou déplacé (ou arrêt avant le premier ajout) : un état seul ne ferait plus exporter que les nouveautés.
                progress.note(files.file.getFileName() + " est absent ou vide alors que son état dit qu'un export a commencé : "
                        + "l'export repart du début (si le fichier a été déplacé, remettez-le avant la prochaine exécution).");
                return State.fresh(info.name(), account);
            }
            if (loaded.migrated())
                progress.note("État d'une version précédente de conv : un parcours complet de la liste, une seule fois, vérifie que rien "
                        + "n'a été manqué (environ une requête par page de la liste ; les conversations déjà exportées sont reconnues, pas réécrites).");
            return loaded.state();
        }

        private void load() throws IOException {
            if (!Files.exists(files.file)) return;
            Optional<Index.Loaded> index = Index.load(files.index, files.file);
            if (index.isPresent()) {
                ids = index.get().ids();
                keys = index.get().keys();
                offsets = index.get().offsets();
                lines = sortedLines = keys.size();
                sortedBytes = Files.size(files.file);
                indexed = true;
                return;
            }
            journal.repairTail(schema, torn -> progress.note("Dernière ligne incomplète (" + torn.length + " octets, reste d'une exécution interrompue) "
                    + "retirée de " + files.file.getFileName() + " ; " + recoverLater(List.of(torn))));
            // Une estimation basse du nombre de lignes (4 Ko chacune) : la table grandit au besoin, jamais trop grande d'emblée.
            ids = new KnownIds((int) Math.min(1 << 24, Files.size(files.file) / 4096));
            Journal.Scan scan = journal.scan(schema, ids, keys, offsets, dropped, aside);
            lines = scan.lines();
            sortedLines = scan.sortedLines();
            sortedBytes = scan.sortedBytes();
            if (lines > 0 && ids.size() == 0 && state.watermark() == null)
                throw new Failure(Exit.CONFIG, files.file + " ne contient aucune ligne reconnaissable : ce n'est sans doute pas un export "
                        + "de cette source. Choisissez un autre fichier avec --output.");
            report(scan);
        }

        private void report(Journal.Scan scan) {
            String name = files.file.getFileName().toString();
            if (!scan.unreadable().isEmpty())
                progress.note("Attention : " + scan.unreadable().size() + " ligne(s) illisible(s) dans " + name + " (ligne(s) " + Progress.abbreviate(scan.unreadable(), scan.unreadable().size())
                        + ") : mise(s) de côté dans " + files.rejected.getFileName() + ", rien n'est supprimé ; " + recoverLater(scan.damaged()));
            if (scan.duplicates() > 0)
                progress.note(scan.duplicates() + " ancienne(s) version(s) en double retirée(s) de " + name + " (la plus récente est gardée, "
                        + "l'autre mise de côté dans " + files.rejected.getFileName() + ").");
            if (sortedLines < lines)
                progress.note(name + " n'est pas entièrement trié (exécution interrompue ou modification à la main) : il le sera à la fin.");
        }

        /** Une ligne retirée est redemandée seule si son identifiant s'y lit (Weba-AI : le visiteur), gardé dans l'état jusque-là. */
        private String recoverLater(List<byte[]> damaged) {
            java.util.regex.Pattern id = java.util.regex.Pattern.compile("\"" + schema.lookupField() + "\"\\s*:\\s*\"([^\"\\\\]{1,200})\"");
            Set<String> recover = new java.util.LinkedHashSet<>(state.recover());
            int unnamed = 0;
            for (byte[] line : damaged) {
                var found = id.matcher(new String(line, StandardCharsets.UTF_8));
                if (found.find()) recover.add(found.group(1)); else unnamed++;
            }
            checkpoint(new State(state.format(), state.source(), state.account(), state.watermark(), state.refreshedTo(), state.walks(), List.copyOf(recover), state.savedAt()));
            Progress.Noun noun = progress.noun();
            return damaged.size() - unnamed + " " + noun.plural() + " " + noun.agree("redemandé(s)") + (noun.feminine() ? " une à une" : " un à un") + " à l'API"
                    + (unnamed == 0 ? "." : ", " + unnamed + " sans identifiant lisible : pour les réexporter, lancez une fois " + noun.command()
                    + " --full-refresh (environ une requête par page de la liste, soit " + (ids.size() / 20 + 1) + " à 20 par page).");
        }

        /**
         * La réécriture triée, une fois par exécution au plus : le reste du fichier est trié par morceaux bornés (fusionnés s'il y en a
         * plusieurs) ; entre ses lignes, la partie déjà triée passe par blocs copiés par le noyau, ses clés et positions étant en mémoire.
         */
        final class SortedRewrite {
            /** Une suite triée de lignes : la suivante, ou null à la fin. */
            private interface Run { Line next() throws IOException; }

            private record Head(Line line, Run rest) { }

            private final int[] newLine = new int[Math.toIntExact(lines + 1)];
            private final LongList written = new LongList(Math.toIntExact(lines)), writtenOffsets = new LongList(Math.toIntExact(lines));
            private final List<LineReader> parts = new ArrayList<>();
            private FileChannel source, target;
            private OutputStream out, rejected;
            private int copied;                 // les lignes [0, copied) de la partie triée sont traitées
            private long outPosition;

            /** Réécrit le fichier ; ensuite, clés, positions et identifiants suivent chaque ligne à sa nouvelle place. */
            void run() throws IOException {
                Arrays.fill(newLine, -1);
                try {
                    AtomicFile.replace(files.file, (target, out) -> {
                        try (FileChannel source = FileChannel.open(files.file, StandardOpenOption.READ);
                             OutputStream rejected = new LazyOutput(files.rejected)) {    // fermé (vidé) avant le renommage
                            this.source = source;
                            this.target = target;
                            this.out = out;
                            this.rejected = rejected;
                            Run tail = sortedTail();
                            for (Line line = tail.next(); line != null; line = tail.next()) {
                                copySortedBefore(line);
                                newLine[line.index()] = written.size();
                                written.add(line.key());
                                writtenOffsets.add(outPosition);
                                out.write(line.bytes());
                                out.write('\n');
                                outPosition += line.bytes().length + 1;
                            }
                            copySortedBefore(null);
                        }
                    });
                } catch (java.io.UncheckedIOException e) {
                    throw e.getCause();
                } finally {
                    for (LineReader part : parts) part.close();
                }
                keys = written;
                offsets = writtenOffsets;
                ids.remap(newLine);
            }

            /** Les lignes après la partie triée, dans l'ordre : un morceau trié en mémoire, ou la fusion des morceaux écrits à part. */
            private Run sortedTail() throws IOException {
                List<Run> runs = new ArrayList<>();
                List<Line> chunk = new ArrayList<>();
                long held = 0;
                try (LineReader lines = new LineReader(Channels.newInputStream(FileChannel.open(files.file, StandardOpenOption.READ).position(sortedBytes)))) {
                    for (int index = (int) sortedLines; lines.next(); index++) {
                        if (dropped.get(index)) {
                            if (aside.get(index)) setAside(lines.buffer(), lines.start(), lines.length());
                            continue;
                        }
                        Line line = lines.isBlank() ? null : Line.of(schema, Arrays.copyOfRange(lines.buffer(), lines.start(), lines.start() + lines.length()), index);
                        if (line == null) continue;
                        chunk.add(line);
                        held += line.bytes().length + 64;
                        if (held > chunkBytes) {
                            runs.add(spill(chunk));
                            chunk = new ArrayList<>();
                            held = 0;
                        }
                    }
                }
                chunk.sort(Line.ORDER);
                var rest = chunk.iterator();
                runs.add(() -> rest.hasNext() ? rest.next() : null);
                PriorityQueue<Head> heads = new PriorityQueue<>((a, b) -> Line.ORDER.compare(a.line(), b.line()));
                for (Run run : runs) push(heads, run);
                return () -> {
                    Head head = heads.poll();
                    if (head != null) push(heads, head.rest());
                    return head == null ? null : head.line();
                };
            }

            private static void push(PriorityQueue<Head> heads, Run run) throws IOException {
                Line line = run.next();
                if (line != null) heads.add(new Head(line, run));
            }

            /** Un morceau trié écrit à part, et relu dans l'ordre : chaque ligne y est précédée de son numéro d'origine et d'une espace. */
            private Run spill(List<Line> chunk) throws IOException {
                chunk.sort(Line.ORDER);
                Files.createDirectories(files.sortDir);
                Path part = files.sortDir.resolve("part-" + parts.size());
                try (OutputStream file = new BufferedOutputStream(Files.newOutputStream(Files.createFile(part, Io.PRIVATE)), 1 << 16)) {
                    for (Line line : chunk) {
                        file.write((line.index() + " ").getBytes(StandardCharsets.US_ASCII));
                        file.write(line.bytes());
                        file.write('\n');
                    }
                }
                LineReader lines = new LineReader(Files.newInputStream(part), Long.MAX_VALUE, 1 << 16);
                parts.add(lines);
                return () -> {
                    if (!lines.next()) return null;
                    int space = lines.start();
                    while (lines.buffer()[space] != ' ') space++;
                    int index = Integer.parseInt(new String(lines.buffer(), lines.start(), space - lines.start(), StandardCharsets.US_ASCII));
                    return Line.of(schema, Arrays.copyOfRange(lines.buffer(), space + 1, lines.start() + lines.length()), index);
                };
            }

            /** Recopie, par blocs entre les lignes écartées, les lignes de la partie triée qui passent avant {@code next} (toutes s'il est null). */
            private void copySortedBefore(Line next) throws IOException {
                while (copied < sortedLines) {
                    if (dropped.get(copied)) {
                        if (aside.get(copied)) {
                            byte[] line = sortedLine(copied);
                            setAside(line, 0, line.length - (line[line.length - 1] == '\n' ? 1 : 0));
                        }
                        copied++;
                        continue;
                    }
                    int end = dropped.nextSetBit(copied);
                    if (end < 0 || end > sortedLines) end = (int) sortedLines;
                    int stop = next == null ? end : firstAfter(next, copied, end);
                    copyBlock(copied, stop);
                    copied = stop;
                    if (stop < end) return;
                }
            }

            /** Dans [from, to) de la partie triée, sans ligne écartée : la première ligne qui passe après {@code next}, ou to. */
            private int firstAfter(Line next, int from, int to) {
                int low = from, high = to;
                while (low < high) {
                    int middle = (low + high) >>> 1;
                    Line sorted = new Line(keys.get(middle), () -> {
                        byte[] line = sortedLine(middle);
                        return schema.read(line, 0, line.length).tieBreak();
                    }, null, middle);
                    if (Line.ORDER.compare(sorted, next) < 0) low = middle + 1; else high = middle;
                }
                return low;
            }

            /** Les lignes [from, to) de la partie triée passent d'un bloc, copiées par le noyau ; leurs nouvelles places sont notées. */
            private void copyBlock(int from, int to) throws IOException {
                if (from == to) return;
                out.flush();
                long start = offsets.get(from), end = offsetOf(to);
                for (long at = start; at < end; ) {
                    long n = source.transferTo(at, end - at, target);
                    if (n <= 0) throw new IOException(files.file + " a raccourci pendant la réécriture");
                    at += n;
                }
                for (int i = from; i < to; i++) {
                    newLine[i] = written.size();
                    written.add(keys.get(i));
                    writtenOffsets.add(outPosition + offsets.get(i) - start);
                }
                outPosition += end - start;
            }

            private long offsetOf(int line) { return line < sortedLines ? offsets.get(line) : sortedBytes; }

            /** La ligne {@code index} de la partie triée, fin de ligne comprise, relue dans le fichier. */
            private byte[] sortedLine(int index) {
                ByteBuffer line = ByteBuffer.allocate(Math.toIntExact(offsetOf(index + 1) - offsets.get(index)));
                try {
                    while (line.hasRemaining() && source.read(line, offsets.get(index) + line.position()) > 0) { /* lecture */ }
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                return line.array();
            }

            private void setAside(byte[] bytes, int start, int length) throws IOException {
                rejected.write(bytes, start, length);
                rejected.write('\n');
            }
        }
    }

    /** Petits utilitaires de fichiers partagés : droits privés, erreurs expliquées, nettoyage sans bruit. */
    static final class Io {
        static final FileAttribute<?>[] PRIVATE = java.nio.file.FileSystems.getDefault().supportedFileAttributeViews().contains("posix")
                ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))} : new FileAttribute<?>[0];

        /** Le verrou du système sur {@code lockFile} ; une autre exécution qui le tient donne le code 8 : {@code user}, puis ce qu'il faut faire. */
        static FileChannel lock(Path lockFile, String user) throws IOException {
            FileChannel channel = FileChannel.open(lockFile, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE), PRIVATE);
            try {
                if (channel.tryLock() != null) return channel;
            } catch (OverlappingFileLockException heldHere) {
                // tenu ailleurs dans ce processus : occupé aussi
            } catch (IOException | RuntimeException e) {
                channel.close();
                throw e;
            }
            channel.close();
            throw new Failure(Exit.BUSY, user + " : attendez qu'elle se termine (ou arrêtez-la), puis relancez.");
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
            else if (reason.contains("File name too long")) reason = "nom de fichier trop long";
            else if (reason.contains("Is a directory")) reason = "c'est un dossier";
            boolean vowel = "aeéiouy".indexOf(Character.toLowerCase(action.charAt(0))) >= 0;
            return new Failure(Exit.FILES, "Impossible " + (vowel ? "d'" : "de ") + action + " (" + reason + ") : le fichier d'export précédent est intact ; "
                    + "libérez de la place ou corrigez les droits, puis relancez.");
        }

        static void closeQuietly(AutoCloseable c) {
            try {
                if (c != null) c.close();
            } catch (Exception ignored) { /* fermeture après erreur */ }
        }

        static void deleteQuietly(Path p) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) { /* restera pour la prochaine exécution */ }
        }

        static void deleteTree(Path dir) {
            if (!Files.isDirectory(dir)) return;
            try (var entries = Files.list(dir)) {
                entries.forEach(Io::deleteQuietly);
            } catch (IOException ignored) { /* idem */ }
            deleteQuietly(dir);
        }
    }

    /** Les chemins d'un export et son verrou : ceux du vrai fichier quand le chemin passe par un lien symbolique. */
    static final class ExportFiles implements AutoCloseable {
        // Le plus long suffixe ajouté au nom du fichier (« .state.json.tmp ») ; un nom de fichier tient en 255 octets.
        private static final int LONGEST_SUFFIX = 16;
        final Path file, state, index, rejected, sortDir;
        private final FileChannel lockChannel;

        private ExportFiles(Path file, FileChannel lockChannel) {
            this.file = file;
            this.state = sibling(file, ".state.json");
            this.index = sibling(file, ".index");
            this.rejected = sibling(file, ".rejected");
            this.sortDir = sibling(file, ".sort");
            this.lockChannel = lockChannel;
        }

        static Path sibling(Path file, String suffix) { return file.resolveSibling(file.getFileName() + suffix); }

        static ExportFiles lock(Path requested) {
            Path file;
            try {
                file = resolve(requested);
            } catch (IOException e) {
                throw Io.fileFailure("suivre le lien " + requested, e);
            }
            if (file.getFileName().toString().getBytes(StandardCharsets.UTF_8).length + LONGEST_SUFFIX > 255)
                throw new Failure(Exit.FILES, "Le nom " + file.getFileName() + " est trop long pour un fichier d'export (ses fichiers voisins, "
                        + "comme .state.json.tmp, dépasseraient 255 octets) : choisissez un nom plus court avec --output.");
            try {
                Files.createDirectories(file.getParent());
                return new ExportFiles(file, Io.lock(sibling(file, ".lock"), "Une autre exécution de conv utilise déjà " + file.getFileName()));
            } catch (IOException e) {
                throw Io.fileFailure("préparer " + file, e);
            }
        }

        /** Le fichier que désigne le chemin, liens suivis : deux chemins vers le même fichier partagent verrou et voisins. */
        static Path resolve(Path requested) throws IOException {
            Path path = requested.toAbsolutePath().normalize();
            for (int hops = 0; Files.isSymbolicLink(path) && hops < 40; hops++)
                path = path.resolveSibling(Files.readSymbolicLink(path)).normalize();
            Path parent = path.getParent();
            return Files.isDirectory(parent) ? parent.toRealPath().resolve(path.getFileName()) : path;
        }

        /** --reset : efface l'export, son état et son index, comme avant la toute première exécution (sans les lire). */
        void erase(Progress progress) throws IOException {
            for (Path path : List.of(file, state, index)) Files.deleteIfExists(path);
            progress.note("--reset : fichier d'export et état effacés.");
        }

        /** Les restes d'un arrêt brutal pendant une écriture : des fichiers temporaires, jamais lus. */
        void removeLeftovers() {
            for (Path path : List.of(file, state, index)) Io.deleteQuietly(sibling(path, ".tmp"));
            Io.deleteTree(sortDir);
        }

        /** Avant la première requête : un fichier ou un dossier où l'on ne peut pas écrire est signalé tout de suite. */
        void checkWritable() {
            Path target = Files.exists(file) ? file : file.getParent();
            if (!Files.isWritable(target) || !Files.isWritable(file.getParent()))
                throw new Failure(Exit.FILES, "Impossible d'écrire dans " + target + " (permission refusée ou système de fichiers en lecture seule) : "
                        + "le fichier d'export précédent est intact ; corrigez les droits ou choisissez un autre fichier avec --output, puis relancez.");
        }

        @Override
        public void close() { Io.closeQuietly(lockChannel); }
    }

    /** Le fichier d'état : lu et validé (code 3 s'il est invalide, rien n'est touché), migré depuis le format 1, écrit atomiquement. */
    static final class StateFile {
        static final long MAX_OFFSET = 1_000_000_000L;
        record Loaded(State state, boolean migrated) { }

        /** L'état, ou null s'il n'y en a pas. */
        static Loaded read(Path path, Path file, SourceInfo info, String account) {
            if (!Files.exists(path)) return null;
            JsonNode node;
            try {
                node = JSON.readTree(path.toFile());
            } catch (IOException e) {
                throw invalid(path, "illisible", "ce n'est pas du JSON");
            }
            if (node == null || !node.isObject()) throw invalid(path, "invalide", "ce n'est pas un objet JSON");
            int format = node.path("format").isInt() ? node.path("format").asInt() : -1;
            if (format < 1 || format > State.FORMAT) throw invalid(path, "invalide", "format inconnu");
            String source = text(path, node, "source"), owner = text(path, node, "account");
            if (!source.equals(info.name()) || !owner.equals(account))
                throw new Failure(Exit.CONFIG, file + " est l'export " + source + " du compte " + owner + " (d'après son état), pas celui de " + info.name()
                        + " " + account + " : " + (source.equals(info.name()) ? "si " + info.variables().get(info.variables().size() - 1).name() // le compte
                        + " est faux, corrigez-le ; sinon, " : "") + "choisissez un autre fichier avec --output.");
            Long watermark = optionalLong(path, node, "watermark");
            List<Walk> walks = walks(path, node, format, info);
            if (format == 1 && info.name().equals("crisp"))
                // Les parcours d'avant suivaient active.last, qui n'est pas l'ordre de la liste : on refait un parcours complet.
                return new Loaded(State.fresh(info.name(), account), true);
            List<String> recover = new ArrayList<>();
            for (JsonNode id : node.path("recover")) if (id.isTextual()) recover.add(id.asText()); else throw invalid(path, "invalide", "« recover » n'a pas que des identifiants");
            // Sans refreshedTo (format 2), on ignore jusqu'où les changements sont appliqués : le premier --refresh parcourt tout, une fois.
            return new Loaded(new State(State.FORMAT, source, owner, watermark, optionalLong(path, node, "refreshedTo"), walks, recover, node.path("savedAt").asText(null)), false);
        }

        static void save(Path path, State state) throws IOException {
            byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(state);
            AtomicFile.replace(path, out -> out.write(bytes));
        }

        private static List<Walk> walks(Path path, JsonNode node, int format, SourceInfo info) {
            JsonNode walks = node.path("walks");
            if (!walks.isArray()) throw invalid(path, "invalide", "« walks » n'est pas une liste");
            List<Walk> result = new ArrayList<>();
            for (JsonNode walk : walks) {
                if (!walk.isObject()) throw invalid(path, "invalide", "un parcours n'est pas un objet");
                Long floor = optionalLong(path, walk, "floor");
                long offset;
                if (format == 1) {
                    Long page = optionalLong(path, walk, "page");
                    if (page == null || page < 1 || page > MAX_OFFSET) throw invalid(path, "invalide", "numéro de page impossible");
                    offset = (page - 1) * (info.name().equals("weba") ? Weba.PER_PAGE : 20);
                } else {
                    Long at = optionalLong(path, walk, "offset");
                    if (at == null || at < 0 || at > MAX_OFFSET) throw invalid(path, "invalide", "position impossible dans la liste");
                    offset = at;
                }
                JsonNode refresh = walk.path("refresh");
                if (!refresh.isMissingNode() && !refresh.isBoolean()) throw invalid(path, "invalide", "« refresh » n'est pas vrai ou faux");
                result.add(new Walk(floor, offset, refresh.asBoolean(false)));
            }
            return result;
        }

        private static String text(Path path, JsonNode node, String field) {
            if (!node.path(field).isTextual()) throw invalid(path, "invalide", "« " + field + " » manque");
            return node.path(field).asText();
        }

        private static Long optionalLong(Path path, JsonNode node, String field) {
            JsonNode value = node.path(field);
            if (value.isMissingNode() || value.isNull()) return null;
            if (!value.isIntegralNumber() || !value.canConvertToLong()) throw invalid(path, "invalide", "« " + field + " » n'est pas un entier");
            return value.asLong();
        }

        private static Failure invalid(Path path, String what, String why) {
            return new Failure(Exit.CONFIG, "Le fichier d'état " + path + " est " + what + " (" + why + ") : supprimez-le pour repartir de la "
                    + "page 1 (aucun doublon ne sera créé, les lignes déjà exportées seront reconnues).");
        }
    }

    /** Écrire un fichier en entier sans jamais laisser un fichier à moitié écrit : temporaire privé, forcé, renommé. */
    static final class AtomicFile {
        interface Body { void write(OutputStream out) throws IOException; }
        /** Qui copie aussi par le noyau vers {@code channel} vide d'abord {@code out}. */
        interface ChannelBody { void write(FileChannel channel, OutputStream out) throws IOException; }

        static void replace(Path target, Body body) throws IOException { replace(target, (channel, out) -> body.write(out)); }

        /** Remplace {@code target} par ce qu'écrit {@code body} ; un arrêt brutal laisse l'ancien ou le nouveau. */
        static void replace(Path target, ChannelBody body) throws IOException {
            Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
            try {
                try (FileChannel channel = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                        StandardOpenOption.TRUNCATE_EXISTING), Io.PRIVATE);
                     OutputStream out = new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 16)) {
                    body.write(channel, out);
                    out.flush();
                    channel.force(true);
                }
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                try (FileChannel dir = FileChannel.open(target.getParent(), StandardOpenOption.READ)) {
                    dir.force(true);    // rend le renommage durable
                } catch (IOException ignored) { /* certains systèmes refusent d'ouvrir un dossier : sans gravité */ }
            } catch (IOException | RuntimeException e) {
                // Un échec du nettoyage ne doit pas masquer la cause (disque plein, dossier à la place du fichier…).
                Io.deleteQuietly(tmp);
                throw e;
            }
        }
    }

    /** Le fichier JSONL lui-même : ajouts forcés sur le disque, réparation d'une fin déchirée, lecture complète au démarrage. */
    static final class Journal implements AutoCloseable {
        /** Ce que la lecture du fichier a trouvé (clés, lignes écartées et mises de côté sont remplies en place). */
        record Scan(long lines, long sortedLines, long sortedBytes, List<Long> unreadable, List<byte[]> damaged, int duplicates) { }

        private final Path file;
        private FileChannel channel;
        private boolean unsynced;

        Journal(Path file) { this.file = file; }

        /** Force sur le disque les lignes ajoutées depuis la dernière fois : avant tout état qui s'y réfère. */
        void sync() {
            if (!unsynced) return;
            try {
                channel.force(false);
                unsynced = false;
            } catch (IOException e) {
                throw Io.fileFailure("écrire dans " + file, e);
            }
        }

        /** Ajoute des lignes (forcées sur le disque par sync, avant l'état qui s'y réfère) ; en cas d'échec, rien à moitié. */
        void append(List<byte[]> lines) {
            long before = -1;
            try {
                if (channel == null) channel = FileChannel.open(file, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE), Io.PRIVATE);
                before = channel.size();
                channel.position(before);
                ByteBuffer buffer = ByteBuffer.allocate(lines.stream().mapToInt(l -> l.length + 1).sum());
                for (byte[] line : lines) buffer.put(line).put((byte) '\n');
                buffer.flip();
                while (buffer.hasRemaining()) channel.write(buffer);
                unsynced = true;
            } catch (IOException e) {
                try {
                    if (before >= 0) channel.truncate(before);
                } catch (IOException ignored) { /* la prochaine exécution réparera la fin du fichier */ }
                throw Io.fileFailure("écrire dans " + file, e);
            }
        }

        /** Une dernière ligne sans fin de ligne est le reste d'un ajout interrompu : retirée (confiée d'abord à beforeCut), sauf si elle est complète. */
        void repairTail(Schema schema, java.util.function.Consumer<byte[]> beforeCut) throws IOException {
            try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                long size = in.size(), start = lastLineStart(in, size);
                if (start == size) return;      // vide, ou fini par une fin de ligne
                byte[] fragment = new byte[(int) Math.min(size - start, Integer.MAX_VALUE - 8)];
                in.read(ByteBuffer.wrap(fragment), start);
                Entry entry = schema.read(fragment, 0, fragment.length);
                if (entry != null && entry.id() != null) {
                    in.write(ByteBuffer.wrap(new byte[] {'\n'}), size);
                } else {
                    beforeCut.accept(fragment);    // ce qu'on en lit encore est noté avant de le retirer
                    in.truncate(start);
                }
                in.force(true);
            }
        }

        /** La première ligne non vide du premier mégaoctet, lue (null s'il n'y en a pas ou si ce n'est pas un objet JSON). */
        Entry first(Schema schema) throws IOException {
            if (!Files.exists(file)) return null;
            try (LineReader reader = new LineReader(Files.newInputStream(file), 1 << 20, 1 << 20)) {
                while (reader.next()) if (!reader.isBlank()) return schema.read(reader.buffer(), reader.start(), reader.length());
            }
            return null;
        }

        /** Au-delà de {@code limit} octets, ne garde qu'une ligne par identifiant, la plus récente, et seulement si {@code keep} l'accepte. */
        void compact(Schema schema, long limit, java.util.function.Predicate<Entry> keep) throws IOException {
            if (!Files.exists(file)) return;
            repairTail(schema, torn -> { });
            if (Files.size(file) < limit) return;
            KnownIds newest = new KnownIds(0);
            try (LineReader lines = new LineReader(Files.newInputStream(file))) {
                for (int n = 0; lines.next(); n++) {
                    Entry e = schema.read(lines.buffer(), lines.start(), lines.length());
                    if (e != null && e.id() != null && keep.test(e)) newest.keepNewest(e, n);
                }
            }
            keepOnly(schema, newest);
        }

        /** Réécrit le fichier en flux, en ne gardant de chaque identifiant que la ligne (numérotées à partir de 0) que {@code kept} lui donne. */
        void keepOnly(Schema schema, KnownIds kept) throws IOException {
            AtomicFile.replace(file, out -> {
                try (LineReader lines = new LineReader(Files.newInputStream(file))) {
                    for (int n = 0; lines.next(); n++) {
                        Entry e = schema.read(lines.buffer(), lines.start(), lines.length());
                        if (e == null || e.id() == null || kept.lineOf(e.id()) != n) continue;
                        out.write(lines.buffer(), lines.start(), lines.length());
                        out.write('\n');
                    }
                }
            });
        }

        /** Le début de la dernière ligne, cherché à reculons par blocs (pas un octet par appel système). */
        static long lastLineStart(FileChannel in, long size) throws IOException {
            ByteBuffer block = ByteBuffer.allocate(1 << 16);
            for (long end = size; end > 0; ) {
                long from = Math.max(0, end - block.capacity());
                block.clear().limit((int) (end - from));
                while (block.hasRemaining() && in.read(block, from + block.position()) > 0) { /* lecture du bloc */ }
                for (int i = (int) (end - from) - 1; i >= 0; i--) if (block.get(i) == '\n') return from + i + 1;
                end = from;
            }
            return 0;
        }

        /** Lit tout le fichier en flux : identifiants (la version la plus récente), clés de tri, lignes écartées et partie déjà triée. */
        Scan scan(Schema schema, KnownIds ids, LongList keys, LongList offsets, BitSet dropped, BitSet aside) throws IOException {
            long count = 0, sortedLines = -1, sortedBytes = 0;
            List<Long> unreadable = new ArrayList<>();
            List<byte[]> damaged = new ArrayList<>();     // un mégaoctet au plus de chacune, pour y lire ce qui reste d'identifiant
            int duplicates = 0;
            Entry previous = null;
            try (LineReader reader = new LineReader(Files.newInputStream(file))) {
                while (reader.next()) {
                    int index = (int) count++;
                    boolean blank = reader.isBlank();
                    Entry entry = blank ? null : schema.read(reader.buffer(), reader.start(), reader.length());
                    int loser = entry == null || entry.id() == null ? index : ids.keepNewest(entry, index);
                    if (entry == null && !blank || entry != null && entry.id() == null) {
                        unreadable.add(index + 1L);
                        damaged.add(Arrays.copyOfRange(reader.buffer(), reader.start(), reader.start() + Math.min(reader.length(), 1 << 20)));
                    } else if (loser >= 0 && entry != null) duplicates++;
                    if (loser >= 0) {
                        dropped.set(loser);
                        if (!blank) aside.set(loser);
                    }
                    keys.add(loser == index ? 0 : entry.sortKey());
                    offsets.add(reader.offset());
                    if (loser == index) continue;
                    if (sortedLines < 0 && previous != null && Entry.ORDER.compare(previous, entry) > 0) {
                        sortedLines = index;
                        sortedBytes = reader.offset();
                    }
                    previous = entry;
                }
            }
            if (sortedLines < 0) { sortedLines = count; sortedBytes = Files.size(file); }
            return new Scan(count, sortedLines, sortedBytes, unreadable, damaged, duplicates);
        }

        @Override
        public void close() {
            Io.closeQuietly(channel);
            channel = null;
        }
    }

    /**
     * Les identifiants connus en empreintes MD5 de 128 bits (deux identifiants de même empreinte : de l'ordre de 10⁻²⁷ pour un million),
     * dans une table à adressage ouvert de 28 octets par case, avec la clé de parcours et la ligne de chacun.
     */
    static final class KnownIds {
        enum Status { NEW, SAME, NEWER }

        private long[] high, low, walk;
        private int[] line;
        private int size;
        private final MessageDigest md5 = md5();

        KnownIds(int expected) {
            int capacity = 1 << 12;
            while (capacity * 3L / 4 < expected) capacity <<= 1;
            allocate(capacity);
        }

        /** Les tables lues par Index, qui en a vérifié la taille (une puissance de 2, la même pour les quatre). */
        KnownIds(long[] high, long[] low, long[] walk, int[] line, int size) {
            this.high = high;
            this.low = low;
            this.walk = walk;
            this.line = line;
            this.size = size;
        }

        int size() { return size; }
        int capacity() { return high.length; }

        Status status(Entry entry) {
            int slot = find(entry.id());
            if (low[slot] == 0) return Status.NEW;
            long stored = walk[slot];
            boolean newer = entry.walkKey() != Entry.MISSING && (stored == Entry.MISSING || entry.walkKey() > stored);
            return newer ? Status.NEWER : Status.SAME;
        }

        /** Après l'écriture d'une version : l'identifiant pointe sur sa ligne ; rend la ligne de la version précédente, ou -1. */
        int put(Entry entry, int lineIndex) { return store(find(entry.id()), entry, lineIndex); }

        /** À la lecture du fichier : garde la version la plus récente (la dernière à égalité) ; rend la ligne écartée, ou -1. */
        int keepNewest(Entry entry, int lineIndex) {
            int slot = find(entry.id());
            return low[slot] != 0 && walk[slot] > entry.walkKey() ? lineIndex : store(slot, entry, lineIndex);
        }

        /** La ligne de la version connue, ou -1. */
        int lineOf(String id) {
            int slot = find(id);
            return low[slot] == 0 ? -1 : line[slot];
        }

        /** Après la réécriture du fichier : chaque identifiant suit sa ligne à sa nouvelle place. */
        void remap(int[] newLine) {
            for (int i = 0; i < line.length; i++) if (low[i] != 0) line[i] = newLine[line[i]];
        }

        private int store(int slot, Entry entry, int lineIndex) {
            int previous = low[slot] == 0 ? -1 : line[slot];
            if (low[slot] == 0) {
                long[] print = fingerprint(entry.id());
                high[slot] = print[0];
                low[slot] = print[1];
                size++;
            }
            walk[slot] = entry.walkKey();
            line[slot] = lineIndex;
            if (size * 4L > high.length * 3L) grow();
            return previous;
        }

        /** La case de l'identifiant, ou la case vide où il irait. */
        private int find(String id) {
            long[] print = fingerprint(id);
            return slot(print[0], print[1]);
        }

        private long[] fingerprint(String id) {
            byte[] d = md5.digest(id.getBytes(StandardCharsets.UTF_8));
            // |1 : jamais 0, qui marque une case vide.
            return new long[] {ByteBuffer.wrap(d, 0, 8).getLong(), ByteBuffer.wrap(d, 8, 8).getLong() | 1};
        }

        private int slot(long h, long l) {
            int mask = high.length - 1;
            int i = (int) (h ^ (h >>> 32)) & mask;
            while (low[i] != 0 && (high[i] != h || low[i] != l)) i = (i + 1) & mask;
            return i;
        }

        private void allocate(int capacity) {
            high = new long[capacity];
            low = new long[capacity];
            walk = new long[capacity];
            line = new int[capacity];
        }

        private void grow() {
            long[] oldHigh = high, oldLow = low, oldWalk = walk;
            int[] oldLine = line;
            allocate(oldHigh.length * 2);
            for (int i = 0; i < oldHigh.length; i++) {
                if (oldLow[i] == 0) continue;
                int j = slot(oldHigh[i], oldLow[i]);
                high[j] = oldHigh[i];
                low[j] = oldLow[i];
                walk[j] = oldWalk[i];
                line[j] = oldLine[i];
            }
        }

        private static MessageDigest md5() {
            try {
                return MessageDigest.getInstance("MD5");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** FICHIER.index : clés, positions et identifiants du fichier trié, lus au démarrage tant que sa taille et sa date n'ont pas changé. */
    static final class Index {
        private static final long MAGIC = 0x434F4E5649445833L; // « CONVIDX3 »
        private static final int BLOCK = 1 << 16;
        record Loaded(KnownIds ids, LongList keys, LongList offsets) { }

        static Optional<Loaded> load(Path index, Path file) {
            if (!Files.exists(index)) return Optional.empty();
            try (FileChannel in = FileChannel.open(index, StandardOpenOption.READ)) {
                long[] head = longs(in, 6);
                if (head[0] != MAGIC || head[1] != Files.size(file) || head[2] != modified(file)) return Optional.empty();
                // Un en-tête abîmé ne doit pas faire allouer n'importe quoi : sa taille annoncée doit être celle du fichier.
                long lines = head[3], capacity = head[4];
                if (lines < 0 || capacity <= 0 || Long.bitCount(capacity) != 1 || capacity > 1 << 30 || head[5] < 0 || head[5] > capacity
                        || in.size() != 48 + 16 * lines + 28 * capacity) return Optional.empty();
                LongList keys = new LongList(longs(in, lines)), offsets = new LongList(longs(in, lines));
                long[] high = longs(in, capacity), low = longs(in, capacity), walk = longs(in, capacity);
                int[] line = new int[(int) capacity];
                inBlocks(line.length, Integer.BYTES, (i, n) -> block(in, n * Integer.BYTES).asIntBuffer().get(line, i, n));
                return Optional.of(new Loaded(new KnownIds(high, low, walk, line, (int) head[5]), keys, offsets));
            } catch (IOException | RuntimeException unusable) {
                return Optional.empty();   // index abîmé : on relit le fichier, qui fait foi
            }
        }

        /** Écrit l'index du fichier tel qu'il est maintenant ; un échec ne coûte que la relecture suivante. */
        static void save(Path index, Path file, KnownIds ids, LongList keys, LongList offsets) {
            try {
                long[] head = {MAGIC, Files.size(file), modified(file), keys.size(), ids.capacity(), ids.size()};
                AtomicFile.replace(index, out -> {
                    writeLongs(out, head, head.length);
                    writeLongs(out, keys.values(), keys.size());
                    writeLongs(out, offsets.values(), offsets.size());
                    writeLongs(out, ids.high, ids.capacity());
                    writeLongs(out, ids.low, ids.capacity());
                    writeLongs(out, ids.walk, ids.capacity());
                    ByteBuffer block = ByteBuffer.allocate(BLOCK);
                    inBlocks(ids.capacity(), Integer.BYTES, (i, n) -> {
                        block.clear().asIntBuffer().put(ids.line, i, n);
                        out.write(block.array(), 0, n * Integer.BYTES);
                    });
                });
            } catch (IOException e) {
                Io.deleteQuietly(index);
            }
        }

        private static long modified(Path file) throws IOException {
            Instant t = Files.getLastModifiedTime(file).toInstant();
            return t.getEpochSecond() * 1_000_000_000L + t.getNano();
        }

        private interface Slice { void at(int from, int count) throws IOException; }

        /** Les valeurs [0, count) par tranches de 64 Ko : jamais de copie entière en mémoire. */
        private static void inBlocks(int count, int width, Slice slice) throws IOException {
            for (int i = 0; i < count; i += BLOCK / width) slice.at(i, Math.min(BLOCK / width, count - i));
        }

        private static long[] longs(FileChannel in, long count) throws IOException {
            long[] values = new long[Math.toIntExact(count)];
            inBlocks(values.length, Long.BYTES, (i, n) -> block(in, n * Long.BYTES).asLongBuffer().get(values, i, n));
            return values;
        }

        private static ByteBuffer block(FileChannel in, int bytes) throws IOException {
            ByteBuffer block = ByteBuffer.allocate(bytes);
            while (block.hasRemaining()) if (in.read(block) < 0) throw new IOException("index tronqué");
            return block.flip();
        }

        private static void writeLongs(OutputStream out, long[] values, int count) throws IOException {
            ByteBuffer block = ByteBuffer.allocate(BLOCK);
            inBlocks(count, Long.BYTES, (i, n) -> {
                block.clear().asLongBuffer().put(values, i, n);
                out.write(block.array(), 0, n * Long.BYTES);
            });
        }
    }

    /** Une ligne à trier : sa clé, ce qui la départage (Entry.tieBreak, lu au besoin, seulement à égalité de clé), ses octets et son numéro d'origine. */
    record Line(long key, java.util.function.Supplier<String> tieBreak, byte[] bytes, int index) {
        static final Comparator<Line> ORDER = (a, b) -> Entry.compare(a.key, a.tieBreak, b.key, b.tieBreak);

        static Line of(Schema schema, byte[] bytes, int index) {
            Entry entry = schema.read(bytes, 0, bytes.length);
            return entry == null || entry.id() == null ? null : new Line(entry.sortKey(), entry::tieBreak, bytes, index);
        }
    }

    /** Lecture ligne à ligne en octets, avec un tampon qui grandit pour les très longues lignes. */
    static final class LineReader implements AutoCloseable {
        private final InputStream in;
        private long remaining;
        private byte[] buffer;
        private int start, length;      // la ligne courante, sans son '\n'
        private int next, end;          // début de la ligne suivante, fin des octets lus
        private long offset, nextOffset;
        private boolean eof;

        LineReader(InputStream in) { this(in, Long.MAX_VALUE, 1 << 20); }

        /** Les {@code limit} premiers octets du flux, avec un tampon de départ de {@code initial} octets (le tri externe ouvre beaucoup de morceaux). */
        LineReader(InputStream in, long limit, int initial) {
            this.in = in;
            this.remaining = limit;
            this.buffer = new byte[initial];
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
                byte[] bytes = buffer;      // en variables locales : le compilateur C1 relirait sinon les champs à chaque octet
                for (int stop = end; scan < stop && bytes[scan] != '\n'; ) scan++;
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
                    Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND), Io.PRIVATE)));
            return out;
        }
        @Override public void write(int b) throws IOException { out().write(b); }
        @Override public void write(byte[] b, int off, int len) throws IOException { out().write(b, off, len); }
        @Override public void close() throws IOException { if (out != null) out.close(); }
    }

    /** Une liste de long sans boîtes. */
    static final class LongList {
        private long[] values;
        private int size;
        LongList() { this(1 << 10); }
        /** Vide, avec la place de {@code capacity} valeurs : pas de recopie quand on connaît la taille. */
        LongList(int capacity) { this.values = new long[capacity]; }
        LongList(long[] values) {
            this.values = values;
            this.size = values.length;
        }
        int size() { return size; }
        long[] values() { return values; }
        void add(long v) {
            if (size == values.length) values = Arrays.copyOf(values, Math.max(16, size * 2));
            values[size++] = v;
        }
        long get(long index) { return values[(int) index]; }
    }

    // ------------------------------------------------------------------ affichage

    /** Lignes de progression et récapitulatif, sur la sortie de la commande. */
    static final class Progress {
        private final PrintWriter out;
        private final LongSupplier nanoTime;
        private final Noun noun;
        private long startNanos, lastLineNanos, atStart;
        private int limit;

        /** Ce qu'on exporte, accordé (« conversation(s) exportée(s) », « profil(s) exporté(s) »), la phrase de la fin, la commande. */
        record Noun(String plural, boolean feminine, String done, String command) {
            String agree(String masculine) { return feminine ? masculine.replace("(s)", "e(s)") : masculine; }
        }

        Progress(PrintWriter out, LongSupplier nanoTime, Noun noun) {
            this.out = out;
            this.nanoTime = nanoTime;
            this.noun = noun;
        }

        Noun noun() { return noun; }

        /** Les dix premiers, puis « … » s'il y en a plus ({@code count} : le nombre réel, parfois plus grand que la liste gardée). */
        static String abbreviate(List<?> items, long count) {
            return items.stream().limit(10).map(String::valueOf).collect(java.util.stream.Collectors.joining(", ", "", count > 10 ? "…" : ""));
        }

        /** Ce que le fichier contient au départ, pour le récapitulatif. */
        void present(long count) { atStart = count; }

        void start(int limit) {
            this.limit = limit;
            this.startNanos = this.lastLineNanos = nanoTime.getAsLong();
        }

        void note(String message) {
            out.println(message);
            out.flush();
        }

        /** Au milieu d'une longue page (une requête par conversation chez Weba-AI) : une ligne toutes les 10 s. */
        void during(long number, Totals t, long count, long total, int requests) {
            if (nanoTime.getAsLong() - lastLineNanos >= 10_000_000_000L) page(number, t, count, total, requests);
        }

        void page(long number, Totals t, long count, long total, int requests) {
            lastLineNanos = nanoTime.getAsLong();
            StringBuilder line = new StringBuilder("page " + number + " : " + counts(t, noun.agree("exporté(s)")) + ", " + requests + " requête(s)");
            long remaining = limit - t.exported;
            if (total >= 0) remaining = Math.min(remaining, Math.max(0, total - count));
            double seconds = (nanoTime.getAsLong() - startNanos) / 1e9;
            int done = t.exported + t.updated;
            if (done > 0 && remaining > 0 && seconds > 1)
                line.append(", reste environ ").append(duration((long) (remaining * seconds / done)))
                        .append(t.updated > 0 ? " (plus les mises à jour, une requête chacune chez Weba-AI)" : "");
            note(line.toString());
        }

        /** Une fois par exécution : la liste n'était pas dans l'ordre demandé. */
        void disorder(int pages) {
            note("Attention : la liste de l'API n'était pas dans l'ordre demandé (date de mise à jour décroissante) : pour ne rien manquer, "
                    + "le parcours a continué jusqu'à la fin de la liste au lieu de s'arrêter au filigrane (" + pages + " page(s) lue(s) en plus).");
        }

        void summary(RunResult result, long count, Path file) {
            Totals t = result.totals();
            note((result.stop() == null ? "Terminé : " : "Arrêté avant la fin : ") + counts(t, noun.plural() + " " + noun.agree("exporté(s)")) + ".");
            note(String.format(Locale.FRANCE, "%s contient désormais %d %s (%d au départ) ; %d requête(s) API utilisée(s)%s.", file, count,
                    noun.plural(), atStart, result.requests(), result.retries() > 0 ? " (dont " + result.retries() + " nouvel(s) essai(s) après une erreur passagère)" : ""));
            if (result.stop() != null) return;
            note(result.complete() ? noun.done() + " : les prochaines exécutions n'ajouteront que les nouveautés."
                                   : "L'export n'est pas encore complet : relancez pour continuer.");
        }

        /** Les compteurs : exportées et ignorées comme le veut la spécification, puis ce qui ne vaut que pour --refresh ou Weba-AI. */
        private String counts(Totals t, String exported) {
            StringBuilder text = new StringBuilder(String.format(Locale.FRANCE, "%d %s, %d %s (%d déjà %s, %d sans identifiant)", t.exported, exported,
                    t.ignored(), noun.agree("ignoré(s)"), t.alreadyPresent, noun.agree("présent(s)"), t.withoutId));
            if (t.refreshing || t.updated > 0) text.append(", ").append(t.updated).append(" mise(s) à jour");
            if (t.withoutDialog > 0) text.append(", ").append(t.withoutDialog).append(" sans dialogue");
            return text.toString();
        }

        static String duration(long seconds) {
            if (seconds < 60) return seconds + " s";
            if (seconds < 3600) return seconds / 60 + " min " + seconds % 60 + " s";
            return seconds / 3600 + " h " + seconds % 3600 / 60 + " min";
        }
    }

    /** {@code conv messages} : l'historique des messages de chaque conversation Crisp du fichier exporté, un fichier par conversation. */
    @Command(name = "messages", description = {
                "Exporte l'historique des messages de chaque conversation Crisp du fichier des conversations, dans <dossier du fichier>/messages/"
                    + "<session_id>.jsonl : tous les champs, sans doublon, le plus récent en haut ; un fichier vide pour une conversation sans message.",
                "Seules sont redemandées les conversations nouvelles, modifiées (updated_at du fichier, ou vu bouger par un export de la liste "
                    + "même sans --refresh), ou dont le fichier de messages manque ou a changé. Une conversation qui échoue est nommée, réessayée "
                    + "aux exécutions suivantes (" + MessagesState.MAX_FAILURES + " fois au plus, puis quand elle bouge) : le code de sortie est alors 6."})
    static final class MessagesCommand implements Callable<Integer> {
        static final int FAILURES_IN_A_ROW = 3;     // conversations en échec de suite : l'API est sans doute en panne, on s'arrête
        @CommandLine.ParentCommand conv parent;
        @Spec CommandSpec spec;

        @Option(names = "--nb", paramLabel = "N", converter = PositiveInt.class, defaultValue = "50",
                description = "Nombre maximum de conversations à interroger (défaut : ${DEFAULT-VALUE}) ; celles qui sont à jour ne comptent pas.")
        int limit;

        @Option(names = "--reset", description = "Oublie l'état des messages : chaque conversation est relue en entier ; les fichiers "
                + "de messages sont gardés et complétés sans doublon.")
        boolean reset;

        @Option(names = "--input", paramLabel = "FICHIER",
                description = "Fichier des conversations (défaut : conversations/conversations.jsonl). Les messages vont dans le dossier messages/ à côté.")
        Path input;

        @CommandLine.Mixin ApiOptions api;

        // Le bilan de cette exécution ; of : les conversations qu'elle interrogera au plus.
        private final List<String> failedNow = new ArrayList<>(), tiesCut = new ArrayList<>();
        private long attempted, processed, gone, of, exported, updated, ignored;
        private Progress progress;

        @Override
        public Integer call() {
            List<String> before = spec.parent().commandLine().getParseResult().matchedOptions().stream().map(o -> o.longestName()).toList();
            if (!before.isEmpty())
                throw new ParameterException(spec.commandLine(), "Les options placées avant « messages » (" + String.join(", ", before)
                        + ") sont celles de l'export de la liste : pour les messages, placez-les après, par exemple « conv messages --nb 10 ».");
            PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
            progress = new Progress(out, System::nanoTime, Crisp.INFO.noun());
            try (Interruption interruption = new Interruption(err)) {
                Path file = (input != null ? input : repoFolder("conversations").resolve(Crisp.INFO.defaultFile())).toAbsolutePath().normalize();
                if (!Files.isRegularFile(file))
                    throw new Failure(Exit.CONFIG, "Le fichier des conversations " + file + " est introuvable : exportez d'abord les "
                            + "conversations (« jbang conv.java »), ou indiquez-le avec --input.");
                Crisp crisp = parent.openCrisp(api);
                MessagesPlan.checkSite(file, crisp.account());
                try (MessagesState state = MessagesState.open(file.getParent().resolve("messages"), reset, progress);
                     MessagesPlan plan = MessagesPlan.read(file, state)) {
                    announce(file, plan);
                    int code = run(crisp, state, plan);
                    interruption.done();
                    return code;
                }
            } finally {
                out.flush();
                err.flush();
            }
        }

        /** Parcourt les conversations à interroger depuis la position de reprise, en tournant jusqu'au début du fichier. */
        private int run(Crisp crisp, MessagesState state, MessagesPlan plan) {
            ConversationMessages walker = new ConversationMessages(crisp, state.folder, progress);
            int pending = plan.offsets.size(), start = plan.start, handled = 0, inARow = 0;
            Failure stop = null;
            for (; stop == null && handled < pending && attempted < limit; handled++) {
                MessagesPlan.Conversation c = plan.at(plan.offsets.get((start + handled) % pending));
                // Une ligne en double dans le fichier : déjà traitée plus haut dans cette exécution.
                MessagesState.Need need = c == null ? MessagesState.Need.UP_TO_DATE : state.need(c.sessionId(), c.updatedAt());
                if (need.ordinal() <= MessagesState.Need.ABANDONED.ordinal()) continue;
                attempted++;
                int requests = crisp.http().requests();
                try {
                    ConversationMessages.Outcome outcome = walker.fetch(c.sessionId(), need == MessagesState.Need.INCREMENTAL);
                    state.record(c.sessionId(), c.updatedAt(), outcome);
                    conversation(c.sessionId(), outcome, crisp.http().requests() - requests);
                    inARow = 0;
                } catch (Failure f) {
                    if (!f.exit.stopsApiCalls()) throw f;
                    // Quota ou accès refusé : arrêt, la reprise se fera sur cette conversation.
                    if (f.exit != Exit.NETWORK) { stop = f; break; }
                    failed(c.sessionId(), f.getMessage(), state.failed(c.sessionId(), c.updatedAt()));
                    if (++inARow == FAILURES_IN_A_ROW)
                        stop = new Failure(Exit.NETWORK, "Crisp échoue pour " + FAILURES_IN_A_ROW + " conversations de suite (dernière erreur : "
                                + f.getMessage() + ") : l'exécution s'arrête, ce qui était exporté est enregistré ; relancez plus tard.");
                }
            }
            if (stop == null || stop.exit != Exit.AUTH) summary(plan, state, crisp.http().requests(), pending - handled);
            if (stop != null) throw stop;
            if (failedNow.isEmpty() && plan.abandoned == 0) return Exit.OK.code;
            spec.commandLine().getErr().println("Des conversations sont laissées de côté (voir le bilan) : rien n'est perdu de ce qui est exporté ; "
                    + "elles seront réessayées, ou relues en entier avec « conv messages --reset ».");
            return Exit.NETWORK.code;
        }

        private void announce(Path file, MessagesPlan plan) {
            of = Math.min(limit, plan.offsets.size());
            progress.note(String.format(Locale.FRANCE, "%s : %d conversation(s), %d à interroger (nouvelles, modifiées ou à relire), %d à jour, "
                    + "%d refusée(s) (identifiant invalide).", file.getFileName(), plan.conversations, plan.offsets.size(), plan.upToDate, plan.refused));
            if (plan.offsets.size() > 0)
                progress.note("Cette exécution en interroge " + of + " : au moins autant de requêtes, une par page de 40 messages (une "
                        + "conversation déjà exportée qui a reçu quelques messages en coûte 1) ; quota d'un jeton plugin Crisp : 5 000 par jour.");
        }

        private void conversation(String sessionId, ConversationMessages.Outcome o, int requests) {
            if (o.gone()) gone++; else processed++;
            exported += o.exported();
            updated += o.updated();
            ignored += o.ignored();
            if (o.tiesCut()) tiesCut.add(sessionId);
            progress.note(String.format(Locale.FRANCE, "[%d/%d] %s : ", attempted, of, sessionId) + (o.gone()
                    ? "introuvable chez Crisp (la route de la conversation répond 404 aussi : supprimée), ignorée."
                    : String.format(Locale.FRANCE, "%d message(s) exporté(s), %d mis à jour, %d ignoré(s) (déjà présents), %d au total, %d requête(s).",
                            o.exported(), o.updated(), o.ignored(), o.total(), requests)));
        }

        private void failed(String sessionId, String why, int failures) {
            failedNow.add(sessionId);
            progress.note(String.format(Locale.FRANCE, "[%d/%d] %s : échec (%d sur %d essais) : %s", attempted, of, sessionId, failures, MessagesState.MAX_FAILURES, why));
        }

        private void summary(MessagesPlan plan, MessagesState state, int requests, long remaining) {
            progress.note(String.format(Locale.FRANCE, "Terminé : %d conversation(s) traitée(s), %d ignorée(s) (%d à jour, %d identifiant(s) refusé(s), "
                    + "%d introuvable(s) chez Crisp) ; %d message(s) exporté(s), %d mis à jour, %d ignoré(s) (déjà présents).", processed,
                    plan.upToDate + plan.refused + plan.gone + gone, plan.upToDate, plan.refused, plan.gone + gone, exported, updated, ignored));
            progress.note(String.format(Locale.FRANCE, "%s contient désormais %d fichier(s) de messages ; %d requête(s) API utilisée(s).", state.folder, state.files, requests));
            if (!tiesCut.isEmpty())
                progress.note(tiesCut.size() + " conversation(s) ont plus d'une page de messages sur une même milliseconde, lus aussi loin que l'API "
                        + "le permet (il peut en manquer) : " + Progress.abbreviate(tiesCut, tiesCut.size()) + ".");
            if (!failedNow.isEmpty())
                progress.note(failedNow.size() + " conversation(s) en échec cette fois, réessayée(s) aux prochaines exécutions : " + Progress.abbreviate(failedNow, failedNow.size()) + ".");
            if (plan.abandoned > 0)
                progress.note(plan.abandoned + " conversation(s) abandonnée(s) après " + MessagesState.MAX_FAILURES + " échecs, réessayée(s) quand elles "
                        + "bougeront ou avec --reset : " + Progress.abbreviate(plan.abandonedNames, plan.abandoned) + ".");
            progress.note(remaining > 0 ? "Reste " + remaining + " conversation(s) à interroger : relancez pour continuer."
                    : failedNow.isEmpty() ? "Les messages de toutes les conversations sont à jour." : "Les autres conversations sont à jour.");
        }
    }

    /** Les conversations à interroger, 8 octets chacune ; le fichier reste ouvert : s'il est remplacé, on relit la même version. */
    static final class MessagesPlan implements AutoCloseable {
        private static final java.util.regex.Pattern SESSION_ID =
                java.util.regex.Pattern.compile("session_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

        record Conversation(String sessionId, long updatedAt) { }

        private final FileChannel channel;
        final LongList offsets = new LongList();     // le début de chaque ligne à interroger
        // FICHIER.moved (écrit par l'export de la liste) : identifiant → sa ligne dans moved, et l'updated_at qu'elle dit.
        private final KnownIds movedIds = new KnownIds(0);
        private final LongList movedAt = new LongList();
        final List<String> abandonedNames = new ArrayList<>();
        long conversations, upToDate, refused, gone, abandoned;
        int start;      // l'indice de la première conversation à interroger (le tour continue au début)

        private MessagesPlan(FileChannel channel) { this.channel = channel; }

        /** Un identifiant de Crisp : « session_ » et un UUID en minuscules ; rien d'autre ne devient un nom de fichier. */
        static boolean validSessionId(String id) { return id != null && SESSION_ID.matcher(id).matches(); }

        /** La ligne lue comme conversation, ou null ; seul updated_at compte (active.last ne dit rien des messages). */
        static Entry valid(LineReader line) {
            Entry entry = Schema.CRISP.read(line.buffer(), line.start(), line.length());
            return entry != null && validSessionId(entry.id()) ? entry : null;
        }

        /** Avant toute requête et toute écriture : le fichier d'un autre site que ID_SITE_CRISP est refusé (d'après sa première conversation). */
        static void checkSite(Path file, String websiteId) {
            try (LineReader lines = new LineReader(Files.newInputStream(file))) {
                while (lines.next() && lines.isBlank()) { /* lignes vides */ }
                Entry first = new Schema("website_id", Schema.CRISP.sort(), Schema.CRISP.walk()).read(lines.buffer(), lines.start(), lines.length());
                if (first != null && first.id() != null && !first.id().equals(websiteId))
                    throw new Failure(Exit.CONFIG, file + " est l'export du site Crisp " + first.id() + ", pas celui de ID_SITE_CRISP ("
                            + websiteId + ") : vérifiez ID_SITE_CRISP ou --input ; rien n'a été demandé ni écrit.");
            } catch (IOException e) {
                throw Io.fileFailure("lire " + file, e);
            }
        }

        static MessagesPlan read(Path file, MessagesState state) {
            FileChannel channel = null;
            try {
                channel = FileChannel.open(file, StandardOpenOption.READ);
                MessagesPlan plan = new MessagesPlan(channel);
                plan.readMoved(ExportFiles.sibling(file, ".moved"), state);
                // Le flux n'est pas fermé ici : il fermerait le canal qui sert ensuite aux lectures à une position.
                LineReader lines = new LineReader(Channels.newInputStream(channel));
                while (lines.next()) {
                    if (lines.isBlank()) continue;
                    plan.conversations++;
                    Entry entry = valid(lines);
                    if (entry == null) { plan.refused++; continue; }
                    switch (state.need(entry.id(), plan.updatedAt(entry))) {
                        case UP_TO_DATE -> plan.upToDate++;
                        case GONE -> plan.gone++;
                        case ABANDONED -> { if (plan.abandoned++ < 10) plan.abandonedNames.add(entry.id()); }
                        default -> plan.offsets.add(lines.offset());
                    }
                    // La reprise suit la dernière conversation lue : toutes passent à leur tour, même si les premières bougent souvent.
                    if (entry.id().equals(state.lastId)) plan.start = plan.offsets.size();
                }
                return plan;
            } catch (IOException e) {
                Io.closeQuietly(channel);
                throw Io.fileFailure("lire " + file, e);
            }
        }

        /** Les traces de l'export, sauf celles que les messages lus ont déjà rattrapées (la table reste petite). */
        private void readMoved(Path moved, MessagesState state) throws IOException {
            if (!Files.exists(moved)) return;
            try (LineReader lines = new LineReader(Files.newInputStream(moved))) {
                for (Entry e; lines.next(); ) {
                    if ((e = valid(lines)) == null || state.readAt(e.id(), e.walkKey())) continue;
                    movedIds.keepNewest(e, movedAt.size());
                    movedAt.add(e.walkKey());
                }
            }
        }

        /** Le plus récent des updated_at que disent la ligne et les traces de l'export. */
        private long updatedAt(Entry entry) {
            int line = movedIds.lineOf(entry.id());
            return line < 0 ? entry.walkKey() : Math.max(entry.walkKey(), movedAt.get(line));
        }

        Conversation at(long offset) {
            try {
                LineReader line = new LineReader(Channels.newInputStream(channel.position(offset)), Long.MAX_VALUE, 1 << 14);
                Entry entry = line.next() ? valid(line) : null;
                return entry == null ? null : new Conversation(entry.id(), updatedAt(entry));
            } catch (IOException e) {
                throw Io.fileFailure("relire le fichier des conversations", e);
            }
        }

        @Override public void close() { Io.closeQuietly(channel); }
    }

    /**
     * Les messages d'une conversation, du plus récent au plus ancien, chaque page demandée avec timestamp_before = la date
     * la plus ancienne vue + 1 : la couture est relue (borne incluse ou non), dédoublonnée par empreinte ; le code seul ne
     * finit ni ne prolonge le parcours. Rien n'est écrit d'une conversation interrompue : un fichier partiel passerait pour complet.
     */
    record ConversationMessages(Crisp crisp, Path folder, Progress progress) {
        static final Schema MESSAGE = new Schema("fingerprint", new KeyPath(null, "timestamp", false), new KeyPath(null, "timestamp", false));
        static final int PAGE = 40;     // une page pleine selon l'exemple d'export de Crisp : une plus grande l'est aussi

        /** Le bilan d'une conversation ; {@code bytes} : la taille de son fichier, -1 si elle est supprimée chez Crisp. */
        record Outcome(boolean gone, int exported, int updated, int ignored, int total, boolean tiesCut, long bytes, boolean created) { }

        /** Un message : son empreinte, sa date, ses octets (ceux du fichier, ou ceux de l'API re-sérialisés sans changement). */
        record Message(String fingerprint, long timestamp, byte[] bytes) {
            // Des empreintes numériques (positives, sans zéro en tête) : par longueur puis par texte, c'est l'ordre des nombres.
            static final Comparator<Message> NEWEST_FIRST = Comparator.comparingLong(Message::timestamp).reversed()
                    .thenComparingInt((Message m) -> m.fingerprint().length()).thenComparing(Message::fingerprint);
        }

        /** {@code incremental} : le fichier tient l'historique complet, on s'arrête dès qu'une page le rejoint inchangé. */
        Outcome fetch(String sessionId, boolean incremental) {
            Path file = folder.resolve(sessionId + ".jsonl");
            Map<String, Message> stored = readExisting(file);
            Map<String, Message> served = new java.util.HashMap<>();
            long[] walk = {Long.MAX_VALUE, 0, 0};   // date la plus ancienne vue, messages sans empreinte, ex aequo coupés
            for (Long before = null; ; ) {
                Http.Answer answer = crisp.messages(sessionId, before);
                if (answer == null) return confirmGone(sessionId);
                before = next(sessionId, answer, before, stored, served, walk, incremental);
                if (before == null) break;
            }
            int exported = 0, updated = 0;
            for (Message m : served.values()) {
                Message old = stored.put(m.fingerprint(), m);
                if (old == null) exported++;
                else if (!Arrays.equals(old.bytes(), m.bytes())) updated++;
            }
            boolean created = !Files.exists(file);
            if (exported + updated > 0 || !incremental) write(file, stored.values());
            return new Outcome(false, exported, updated, served.size() - exported - updated + (int) walk[1], stored.size(), walk[2] > 0,
                    MessagesState.size(file), created);
        }

        /** Traite une page ; rend la borne de la suivante, ou null si le parcours est fini. */
        private Long next(String sessionId, Http.Answer answer, Long before, Map<String, Message> stored, Map<String, Message> served,
                          long[] walk, boolean incremental) {
            List<Message> page = new ArrayList<>();
            for (JsonNode node : answer.body().path("data")) {
                byte[] bytes = Schema.bytes(node);
                Entry entry = MESSAGE.read(bytes, 0, bytes.length);
                // Sans empreinte, un message ne peut être dédoublonné : il est compté comme ignoré.
                if (entry == null || entry.id() == null) { walk[1]++; continue; }
                if (before != null && entry.walkKey() != Entry.MISSING && entry.walkKey() > before)
                    throw new Failure(Exit.NETWORK, "Crisp ne respecte pas timestamp_before pour " + sessionId + " (un message du " + entry.walkKey()
                            + " servi pour la borne " + before + ") : rien n'est écrit pour cette conversation, réessayée à la prochaine exécution.");
                page.add(new Message(entry.id(), entry.walkKey(), bytes));
            }
            page.forEach(m -> served.put(m.fingerprint(), m));
            long oldest = walk[0], pageOldest = page.stream().mapToLong(Message::timestamp).filter(t -> t != Entry.MISSING).min().orElse(Long.MAX_VALUE);
            boolean full = page.size() >= PAGE;
            if (pageOldest >= oldest) {
                // Rien de plus ancien. Une page pleine d'une seule milliseconde cache peut-être d'autres ex aequo : la borne
                // passe cette milliseconde (exclue, puis incluse) ; ce qui resterait au-delà d'une page est hors d'atteinte.
                boolean ties = full && oldest != Long.MAX_VALUE && page.stream().allMatch(m -> m.timestamp() == oldest);
                if (!ties || before != null && before <= oldest - 1) return null;
                walk[2]++;
                return before != null && before == oldest ? oldest - 1 : oldest;
            }
            walk[0] = pageOldest;
            if (answer.status() == 200 && !full) return null;   // la dernière page selon Crisp, et elle n'est pas pleine
            if (incremental && page.stream().filter(m -> m.timestamp() == pageOldest)
                    .allMatch(m -> stored.containsKey(m.fingerprint()) && Arrays.equals(stored.get(m.fingerprint()).bytes(), m.bytes())))
                return null;   // la page rejoint l'historique déjà complet, inchangé : le reste est dans le fichier
            return pageOldest + 1;
        }

        /** Un 404 sur les messages n'est une suppression que si la route de la conversation répond 404 aussi. */
        private Outcome confirmGone(String sessionId) {
            if (crisp.one(sessionId) != null)
                throw new Failure(Exit.NETWORK, "Crisp répond 404 pour les messages de " + sessionId + " alors que la conversation existe : "
                        + "rien n'est écrit pour elle, réessayée à la prochaine exécution.");
            return new Outcome(true, 0, 0, 0, 0, false, -1, false);
        }

        /** Les messages du fichier existant (vide s'il n'existe pas) ; une ligne illisible est mise de côté, jamais perdue. */
        private Map<String, Message> readExisting(Path file) {
            Map<String, Message> known = new java.util.HashMap<>();
            if (!Files.exists(file)) return known;
            int rejected = 0;
            try (LineReader lines = new LineReader(Files.newInputStream(file));
                 OutputStream aside = new LazyOutput(ExportFiles.sibling(file, ".rejected"))) {
                while (lines.next()) {
                    Entry entry = MESSAGE.read(lines.buffer(), lines.start(), lines.length());
                    if (entry != null && entry.id() != null) {
                        known.putIfAbsent(entry.id(), new Message(entry.id(), entry.walkKey(),
                                Arrays.copyOfRange(lines.buffer(), lines.start(), lines.start() + lines.length())));
                    } else if (!lines.isBlank()) {
                        aside.write(lines.buffer(), lines.start(), lines.length());
                        aside.write('\n');
                        rejected++;
                    }
                }
            } catch (IOException e) {
                throw Io.fileFailure("lire " + file, e);
            }
            if (rejected > 0)
                progress.note("Attention : " + rejected + " ligne(s) illisible(s) dans " + file.getFileName() + " mise(s) de côté dans "
                        + file.getFileName() + ".rejected.");
            return known;
        }

        /** Remplace le fichier par tous les messages, triés (un fichier vide pour une conversation sans message). */
        private static void write(Path file, java.util.Collection<Message> messages) {
            List<Message> all = messages.stream().sorted(Message.NEWEST_FIRST).toList();
            try {
                AtomicFile.replace(file, out -> {
                    for (Message m : all) { out.write(m.bytes()); out.write('\n'); }
                });
            } catch (IOException e) {
                throw Io.fileFailure("écrire " + file, e);
            }
        }
    }

    /**
     * L'état des messages, dans le dossier messages/ : {@code messages.jsonl.fetched}, un journal en ajout seul (une ligne
     * forcée par conversation lue, après son fichier ; la dernière d'un identifiant fait foi, la toute dernière donne la
     * reprise ; compacté quand il dépasse le double du nécessaire) et {@code messages.jsonl.lock}. En mémoire : KnownIds
     * (identifiant → updated_at et ligne du journal) et 8 octets par ligne du journal (taille du fichier, échecs, suppression).
     */
    static final class MessagesState implements AutoCloseable {
        static final int MAX_FAILURES = 3;
        private static final long SIZE_BITS = (1L << 48) - 1, GONE = 1L << 56;

        /** Ce qu'il faut faire d'une conversation ; les trois premiers cas la passent. */
        enum Need { UP_TO_DATE, GONE, ABANDONED, INCREMENTAL, FULL }

        final Path folder;
        private final FileChannel lock;
        private final Journal journal;
        private KnownIds fetched = new KnownIds(0);
        private LongList records = new LongList();   // par ligne du journal : taille du fichier + 1, échecs << 48, GONE
        String lastId;                               // la dernière conversation lue avant cette exécution : la reprise suit
        long files;                                  // fichiers de messages du dossier

        private MessagesState(Path folder, FileChannel lock) {
            this.folder = folder;
            this.journal = new Journal(folder.resolve("messages.jsonl.fetched"));
            this.lock = lock;
        }

        static MessagesState open(Path folder, boolean reset, Progress progress) {
            FileChannel channel = null;
            try {
                Files.createDirectories(folder);
                channel = Io.lock(folder.resolve("messages.jsonl.lock"), "Une autre exécution de « conv messages » utilise déjà " + folder);
                MessagesState state = new MessagesState(folder, channel);
                if (reset) {
                    Files.deleteIfExists(state.journal.file);
                    progress.note("--reset : état des messages oublié, chaque conversation sera relue en entier ; les fichiers de messages "
                            + "sont gardés et seront complétés sans doublon.");
                }
                try (var entries = Files.newDirectoryStream(folder)) {
                    for (Path p : entries) {    // restes d'écritures interrompues et position de reprise d'avant effacés, fichiers comptés
                        String name = p.getFileName().toString();
                        if (name.endsWith(".tmp") || name.equals("messages.jsonl.state.json")) Io.deleteQuietly(p);
                        else if (name.endsWith(".jsonl") && MessagesPlan.validSessionId(name.substring(0, name.length() - 6))) state.files++;
                    }
                }
                state.loadJournal(progress);
                return state;
            } catch (IOException | RuntimeException e) {
                Io.closeQuietly(channel);
                throw e instanceof IOException io ? Io.fileFailure("préparer " + folder, io) : (RuntimeException) e;
            }
        }

        private void loadJournal(Progress progress) throws IOException {
            if (!Files.exists(journal.file)) return;
            // Une ligne sans fin de ligne est le reste d'un ajout interrompu : sa conversation sera simplement redemandée.
            journal.repairTail(Schema.CRISP, torn -> { });
            try (LineReader lines = new LineReader(Files.newInputStream(journal.file))) {
                while (lines.next()) {
                    Entry entry = MessagesPlan.valid(lines);
                    JsonNode n = entry == null ? JSON.missingNode() : JSON.readTree(lines.buffer(), lines.start(), lines.length());
                    if (entry != null) {
                        fetched.put(entry, records.size());
                        lastId = entry.id();
                    }
                    records.add(pack(n.path("bytes").asLong(-1), n.path("failures").asInt(0), n.path("gone").asBoolean(false)));
                }
            }
            if (records.size() <= 2L * fetched.size() + 10_000) return;
            // Une ligne par conversation, celle qui fait foi (la dernière reste la dernière), puis relu : la même chose, en petit.
            journal.keepOnly(Schema.CRISP, fetched);
            progress.note("Journal des messages compacté : " + records.size() + " ligne(s) → " + fetched.size() + ".");
            fetched = new KnownIds(0);
            records = new LongList();
            loadJournal(progress);
        }

        /** Vrai si les messages ont été lus (ou la suppression constatée) à cet updated_at ou après. */
        boolean readAt(String sessionId, long updatedAt) {
            return fetched.status(new Entry(sessionId, 0, updatedAt)) == KnownIds.Status.SAME;
        }

        /** Un fichier qui n'a plus la taille notée (effacé, ligne retirée ou coupée, ancien journal) est relu en entier, un fichier intact en tête. */
        Need need(String sessionId, long updatedAt) {
            long record = recordOf(sessionId), bytes = (record & SIZE_BITS) - 1;
            boolean same = readAt(sessionId, updatedAt);
            if (same && (record & GONE) != 0) return Need.GONE;
            if (same && failures(record) >= MAX_FAILURES) return Need.ABANDONED;
            boolean intact = bytes >= 0 && bytes == size(folder.resolve(sessionId + ".jsonl"));   // -1 pour une suppression
            return !intact ? Need.FULL : same && failures(record) == 0 ? Need.UP_TO_DATE : Need.INCREMENTAL;
        }

        static long size(Path file) {
            try { return Files.size(file); } catch (IOException missing) { return -1; }
        }

        /** Note la conversation comme lue (ou supprimée), après son fichier. */
        void record(String sessionId, long updatedAt, ConversationMessages.Outcome outcome) {
            if (outcome.created()) files++;
            append(sessionId, updatedAt, outcome.bytes(), 0, outcome.gone());
        }

        /** Note un échec de plus et le rend, en gardant la taille connue du fichier (un fichier intact reste lu en tête). */
        int failed(String sessionId, long updatedAt) {
            long record = recordOf(sessionId);
            int failures = (readAt(sessionId, updatedAt) ? failures(record) : 0) + 1;
            append(sessionId, updatedAt, (record & SIZE_BITS) - 1, failures, false);
            return failures;
        }

        private long recordOf(String sessionId) {
            int line = fetched.lineOf(sessionId);
            return line < 0 ? 0 : records.get(line);
        }

        private static int failures(long record) { return (int) (record >>> 48 & 0xFF); }

        /** Une ligne ajoutée au journal et forcée (O(1), sans réécrire de table). */
        private void append(String sessionId, long updatedAt, long bytes, int failures, boolean gone) {
            ObjectNode node = JSON.createObjectNode().put("session_id", sessionId);
            if (updatedAt == Entry.MISSING) node.putNull("updated_at"); else node.put("updated_at", updatedAt);
            if (bytes >= 0) node.put("bytes", bytes);
            if (failures > 0) node.put("failures", failures);
            if (gone) node.put("gone", true);
            journal.append(List.of(Schema.bytes(node)));
            journal.sync();
            fetched.put(new Entry(sessionId, 0, updatedAt), records.size());
            records.add(pack(bytes, failures, gone));
        }

        private static long pack(long bytes, int failures, boolean gone) {
            return (bytes + 1 & SIZE_BITS) | (long) Math.min(Math.max(failures, 0), 255) << 48 | (gone ? GONE : 0);
        }

        @Override
        public void close() {
            journal.close();
            Io.closeQuietly(lock);
        }
    }

    /** {@code conv people} : le même export que celui des conversations, sur la liste des profils (uniques par people_id). */
    @Command(name = "people", description = {
                "Exporte les profils des contacts du site Crisp dans utilisateurs/utilisateurs.jsonl : tous les champs, un profil par ligne, "
                    + "sans doublon, triés par e-mail (sans la casse), les profils sans e-mail à la fin.",
                "Mêmes variables que l'export des conversations : CRISP_IDENTIFIER_PROD, CRISP_KEY_PROD, ID_SITE_CRISP."})
    static final class PeopleCommand implements Callable<Integer> {
        @CommandLine.ParentCommand conv parent;
        @Spec CommandSpec spec;

        @Mixin ListOptions list = new ListOptions(50, 50);     // 50 par page : le moins de requêtes

        @Mixin ApiOptions api;

        @Override
        public Integer call() {
            Progress progress = new Progress(spec.commandLine().getOut(), System::nanoTime, CrispPeople.INFO.noun());
            CrispPeople source = new CrispPeople(parent.openCrisp(api), list.perPage, progress);
            return parent.export(spec, source, progress, repoFolder("utilisateurs").resolve(CrispPeople.INFO.defaultFile()), list);
        }
    }

    /**
     * Les profils de Crisp, déjà complets dans la liste, demandés par updated_at décroissant : l'ordre que suit WalkPlan, vérifié à
     * chaque page (l'API ne documente ni ses champs de tri ni son ordre par défaut). Tri refusé : la liste est lue dans son ordre, en entier.
     */
    static final class CrispPeople implements Source {
        static final String SORT = "&sort_field=updated_at&sort_order=descending";
        // Ouverte par la commande people seulement (pas de --source) : pas de fabrique.
        static final SourceInfo INFO = new SourceInfo("crisp-people", new Progress.Noun("profil(s)", false, "Tous les profils sont exportés", "conv people"),
                Crisp.INFO.defaultUrl(), null, "utilisateurs.jsonl",
                Crisp.INFO.variables(), Schema.PEOPLE, Crisp.INFO.rateLimitAdvice(), false, null);

        private final Crisp crisp;
        private final int perPage;
        private final Progress progress;
        private boolean sorted = true;

        CrispPeople(Crisp crisp, int perPage, Progress progress) {
            this.crisp = crisp;
            this.perPage = perPage;
            this.progress = progress;
        }

        public SourceInfo info() { return INFO; }
        public String account() { return crisp.account(); }
        public Http http() { return crisp.http(); }
        public boolean ordered() { return sorted; }

        public Page list(long offset) {
            long number = offset / perPage + 1;
            Http.Answer answer = crisp.site("people/profiles/" + number + "?per_page=" + perPage + (sorted ? SORT : ""));
            if (sorted && answer.status() == 400) {
                sorted = false;
                progress.note("Crisp refuse le tri des profils par date de mise à jour (HTTP 400) : ils sont lus dans l'ordre par défaut, et toute la liste est parcourue pour ne manquer personne (une requête "
                        + "par page de " + perPage + " profils, à chaque exécution ; bornez avec --max-requests).");
                return list(offset);
            }
            if (answer.status() == 403)
                throw new Failure(Exit.AUTH, "Crisp refuse l'accès aux profils (HTTP 403) : le jeton n'a pas le droit website:people:profiles, "
                        + "ou le plugin n'est pas installé sur ce site.");
            return Crisp.page(answer, INFO.schema(), number, perPage);
        }

        /** Un profil par son people_id (pour réexporter une ligne retirée par la réparation) ; null sur un 404. */
        public Conversation one(String id) { return Crisp.one(crisp.site("people/profile/" + encode(id)), INFO.schema()); }
    }
}
