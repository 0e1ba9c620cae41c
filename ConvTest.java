///usr/bin/env jbang "$0" "$@" ; exit $?
//DESCRIPTION Tests de conv contre de faux serveurs Crisp et Weba-AI : ./jbang ConvTest.java
//JAVA 17+
//DEPS org.junit.jupiter:junit-jupiter-engine:5.11.3
//DEPS org.junit.platform:junit-platform-launcher:1.11.3
//SOURCES conv.java
//SOURCES fake/FakeServer.java

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.ClassOrderer;
import org.junit.jupiter.api.ClassOrdererContext;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.MethodOrdererContext;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.engine.DiscoverySelector;
import org.junit.platform.engine.discovery.DiscoverySelectors;
import org.junit.platform.engine.support.descriptor.ClassSource;
import org.junit.platform.engine.support.descriptor.MethodSource;

public class ConvTest {

    /**
     * Lance la suite (ou les groupes nommés en arguments) dans l'ordre de la source : un titre par groupe ({@code @Nested}), puis une ligne par test.
     * Dernière ligne « N passed, N failed » ; code non nul au moindre échec, conteneurs compris.
     */
    public static void main(String[] args) {
        // Des noms de groupes en arguments (ex. « Contract Pieces ») : ces groupes seulement.
        List<DiscoverySelector> selectors = new ArrayList<>();
        for (String group : args) selectors.add(DiscoverySelectors.selectClass(ConvTest.class.getName() + "$" + group));
        if (selectors.isEmpty()) selectors.add(DiscoverySelectors.selectClass(ConvTest.class));
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
                .selectors(selectors)
                .configurationParameter("junit.jupiter.testclass.order.default", SourceOrder.class.getName())
                .configurationParameter("junit.jupiter.testmethod.order.default", SourceOrder.class.getName())
                .build();
        if (SourceOrder.TEXT.isEmpty()) System.out.println("(ConvTest.java introuvable : ordre de JUnit, pas celui de la source)");
        int[] counts = new int[3];
        List<String> failures = new ArrayList<>();
        Launcher launcher = LauncherFactory.create();
        launcher.execute(request, new TestExecutionListener() {
            @Override
            public void executionStarted(TestIdentifier id) {
                if (isGroup(id)) System.out.println("\n" + id.getDisplayName());
            }

            @Override
            public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                boolean ok = result.getStatus() == TestExecutionResult.Status.SUCCESSFUL;
                // Une hypothèse non remplie (Assumptions) : le test n'a pas pu s'exercer ici, il est dit ignoré, pas réussi.
                if (result.getStatus() == TestExecutionResult.Status.ABORTED) {
                    counts[2]++;
                    System.out.println("  ignoré  " + name(id) + " (" + result.getThrowable().map(Throwable::getMessage).orElse("?") + ")");
                    return;
                }
                // Un conteneur (classe) en échec compte comme un test échoué : rien ne doit passer inaperçu.
                if (!id.isTest() && ok) return;
                counts[ok ? 0 : 1]++;
                System.out.println((ok ? "  ok      " : "  ÉCHEC   ") + name(id));
                if (ok) return;
                String why = result.getThrowable().map(Throwable::toString).orElse("?");
                failures.add(where(id) + " : " + why);
                System.out.println("            " + why);
            }

            @Override
            public void executionSkipped(TestIdentifier id, String reason) {
                counts[2]++;
                System.out.println("  ignoré  " + name(id) + " (" + reason + ")");
            }
        });
        if (!failures.isEmpty()) {
            System.out.println("\nÉchecs :");
            failures.forEach(f -> System.out.println("  " + f));
        }
        System.out.println(counts[0] + " passed, " + counts[1] + " failed" + (counts[2] > 0 ? ", " + counts[2] + " skipped" : ""));
        System.exit(counts[1] == 0 && counts[0] > 0 ? 0 : 1);
    }

    /** Un groupe : une classe {@code @Nested} (la classe englobante n'a pas de titre à elle). */
    static boolean isGroup(TestIdentifier id) {
        return id.getSource().orElse(null) instanceof ClassSource c && c.getJavaClass() != ConvTest.class;
    }

    /** Le nom du test tel qu'écrit dans la source (sans les parenthèses de JUnit) ; celui du groupe pour un conteneur. */
    static String name(TestIdentifier id) {
        return id.getSource().orElse(null) instanceof MethodSource m ? m.getMethodName() : id.getDisplayName();
    }

    /** « Groupe › test », pour le récapitulatif des échecs. */
    static String where(TestIdentifier id) {
        if (!(id.getSource().orElse(null) instanceof MethodSource m)) return id.getDisplayName();
        DisplayName group = m.getJavaClass().getAnnotation(DisplayName.class);
        return (group == null ? m.getJavaClass().getSimpleName() : group.value()) + " › " + m.getMethodName();
    }

    /** Un fichier du dépôt : depuis la racine (comme .ci/run), sinon à côté du lanceur ./jbang qui a lancé la suite. */
    static Path repoFile(String name) {
        Path here = Path.of(name);
        String launcher = System.getenv("JBANG_LAUNCH_CMD");
        if (Files.exists(here) || launcher == null || launcher.isBlank()) return here;
        return Path.of(launcher).toAbsolutePath().resolveSibling(name);
    }

    /**
     * L'ordre de déclaration, lu dans le texte de ConvTest.java : ni JUnit ni la réflexion ne le garantissent.
     * Source introuvable, ou nom absent : l'ordre de JUnit (tri stable).
     */
    public static final class SourceOrder implements MethodOrderer, ClassOrderer {
        static final String TEXT = read();

        static String read() {
            try {
                return Files.readString(repoFile("ConvTest.java"));
            } catch (IOException | RuntimeException notThere) {
                return "";
            }
        }

        /** Où la classe est déclarée (chercher depuis la classe englobante, pour deux classes de même nom). */
        static int position(Class<?> type) {
            int from = type.getEnclosingClass() == null ? 0 : Math.max(0, position(type.getEnclosingClass()));
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\bclass\\s+" + type.getSimpleName() + "\\b").matcher(TEXT);
            return m.find(from) ? m.start() : Integer.MAX_VALUE;
        }

        /** Où la méthode est déclarée, cherchée après sa classe : deux groupes peuvent avoir des tests de même nom. */
        static int position(java.lang.reflect.Method method) {
            int from = position(method.getDeclaringClass());
            if (from == Integer.MAX_VALUE) return from;
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\bvoid\\s+" + method.getName() + "\\s*\\(").matcher(TEXT);
            return m.find(from) ? m.start() : Integer.MAX_VALUE;
        }

        @Override
        public void orderMethods(MethodOrdererContext context) {
            context.getMethodDescriptors().sort(java.util.Comparator.comparingInt(d -> position(d.getMethod())));
        }

        @Override
        public void orderClasses(ClassOrdererContext context) {
            context.getClassDescriptors().sort(java.util.Comparator.comparingInt(d -> position(d.getTestClass())));
        }
    }

    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir Path dir;
    FakeServer fake;

    @AfterEach
    void stopFake() {
        if (fake != null) fake.close();
    }

    // ------------------------------------------------------------------ outils

    record Run(int code, String out, String err) {
        String all() { return out + err; }
    }

    Path file() { return dir.resolve("conversations.jsonl"); }

    /** Un fichier compagnon de l'export (état, verrou, rejets…) : FICHIER suivi du suffixe, comme le dit le README. */
    Path sibling(String suffix) { return file().resolveSibling(file().getFileName() + suffix); }

    /** Lance conv dans ce processus, contre le faux serveur, et vérifie ce qui vaut pour toute exécution. */
    Run run(String... args) { return runWith(fake.env(), args); }

    Run runWith(Map<String, String> env, String... args) {
        Map<String, String> defaults = new java.util.LinkedHashMap<>(Map.of("--base-url", fake.url(), "--output", file().toString(), "--retry-base-ms", "1"));
        if (fake.kind == FakeServer.Kind.WEBA) defaults.putAll(Map.of("--source", "weba", "--requests-per-minute", "600000"));
        List<String> all = new ArrayList<>(List.of(args));
        defaults.forEach((option, value) -> { if (!all.contains(option)) all.addAll(List.of(option, value)); });
        return bare(env, all.toArray(String[]::new));
    }

    static Run bare(Map<String, String> env, String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        var cmd = conv.commandLine(new conv(env));
        cmd.setOut(new PrintWriter(out, true));
        cmd.setErr(new PrintWriter(err, true));
        int code = cmd.execute(args);
        Run run = new Run(code, out.toString(), err.toString());
        assertClean(run.all());
        return run;
    }

    /** Une clé refusée (401, CRISP_KEY_PROD = « wrong-secret-value ») : code 4, la variable nommée, le secret jamais montré, fichier et état intacts. */
    static void assertWrongKeyTouchedNothing(Run r, Path file, byte[] before, Path state, String stateBefore) throws IOException {
        assertEquals(4, r.code(), r.all());
        assertTrue(r.err().contains("CRISP_KEY_PROD") && r.err().contains("401"), r.err());
        assertFalse(r.all().contains("wrong-secret-value"));
        assertEquals("", r.out());
        assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(file)), "fichier modifié");
        assertEquals(stateBefore, Files.readString(state));
    }

    /** Jamais de secret ni de trace de pile dans ce que voit l'utilisateur. */
    static void assertClean(String output) {
        for (String secret : List.of(FakeServer.KEY, FakeServer.TOKEN, "ZmFrZS1pZGVudGlmaWVy"))
            assertFalse(output.contains(secret), "un secret apparaît dans la sortie :\n" + output);
        assertFalse(output.contains("\tat ") || output.contains("Exception"), "trace de pile dans la sortie :\n" + output);
    }

    /** Les lignes du fichier, chacune devant être un objet JSON valide. */
    List<JsonNode> lines() throws IOException {
        List<JsonNode> nodes = new ArrayList<>();
        if (!Files.exists(file())) return nodes;
        int number = 0;
        for (String line : Files.readAllLines(file())) {
            number++;
            try {
                JsonNode node = JSON.readTree(line);
                assertTrue(node != null && node.isObject(), "ligne " + number + " n'est pas un objet JSON");
                nodes.add(node);
            } catch (IOException e) {
                fail("ligne " + number + " n'est pas du JSON valide : " + line);
            }
        }
        return nodes;
    }

    String idField() { return fake.kind == FakeServer.Kind.CRISP ? "session_id" : "id"; }

    long activity(JsonNode n) {
        if (fake.kind == FakeServer.Kind.CRISP) return n.path("active").path("last").asLong(Long.MIN_VALUE);
        return n.hasNonNull("last_message_at") ? java.time.Instant.parse(n.get("last_message_at").asText()).toEpochMilli() : Long.MIN_VALUE;
    }

    /** Le fichier est valide ligne à ligne, sans doublon, trié (activité décroissante, puis identifiant). */
    List<String> assertValidFile() throws IOException {
        List<JsonNode> nodes = lines();
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            JsonNode n = nodes.get(i);
            String id = n.path(idField()).asText(null);
            assertNotNull(id, "ligne sans identifiant : " + n);
            ids.add(id);
            if (i > 0) {
                JsonNode p = nodes.get(i - 1);
                long a = activity(p), b = activity(n);
                assertTrue(a > b || a == b && p.path(idField()).asText().compareTo(id) < 0,
                        "ordre faux aux lignes " + i + "-" + (i + 1) + " : " + a + " puis " + b);
            }
        }
        assertEquals(ids.size(), new HashSet<>(ids).size(), "doublons dans le fichier");
        return ids;
    }

    /** Tout ce que le serveur liste est dans le fichier, et rien d'autre. */
    void assertComplete() throws IOException {
        assertEquals(new HashSet<>(fake.ids()), new HashSet<>(assertValidFile()));
    }

    /** Relance jusqu'à ce que l'historique soit exporté (en bornant le nombre d'essais). */
    void exportAll(String... args) {
        for (int i = 0; i < 20; i++) {
            Run r = run(args);
            assertEquals(0, r.code(), r.all());
            if (r.out().contains("Tout l'historique est exporté")) return;
        }
        fail("l'historique n'est jamais complet");
    }

    JsonNode state() throws IOException { return JSON.readTree(sibling(".state.json").toFile()); }

    /** Lance conv dans un processus à part (pour le tuer, le limiter ou en lancer deux). */
    ProcessBuilder child(Map<String, String> env, String... args) {
        List<String> all = new ArrayList<>(List.of("--base-url", fake.url(), "--output", file().toString(), "--retry-base-ms", "1"));
        all.addAll(List.of(args));
        return bareChild(env, all.toArray(String[]::new));
    }

    /** conv dans un JVM à part, avec ces seuls arguments. */
    static ProcessBuilder bareChild(Map<String, String> env, String... args) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"), "conv"));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().remove("JAVA_TOOL_OPTIONS");
        pb.environment().putAll(env);
        return pb;
    }

    static String output(Process p) throws Exception {
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(60, TimeUnit.SECONDS);
        return text;
    }

    /** Vrai si ce processus ignore SIGINT (bit 2 du masque SigIgn) : un enfant hérite de ce réglage. */
    static boolean sigintIgnored() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status")))
            if (line.startsWith("SigIgn:")) return (Long.parseLong(line.substring(7).strip(), 16) & 0x2) != 0;
        return false;
    }

    static void sleepQuietly(long millis) {
        try { Thread.sleep(millis); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
    }

    static Map<String, String> without(Map<String, String> env, String name) {
        Map<String, String> copy = new HashMap<>(env);
        copy.remove(name);
        return copy;
    }

    // ------------------------------------------------------------------ l'export Crisp (la spécification)

    @Nested
    @DisplayName("Export Crisp : la spécification")
    class CrispExport {
        @Test
        void exportsEverythingAcrossRunsWithoutDoubles() throws Exception {
            fake = FakeServer.crisp(95);
            Run first = run("--nb", "40");
            assertEquals(0, first.code(), first.all());
            assertEquals(40, assertValidFile().size());
            assertTrue(first.out().contains("Terminé : 40 conversation(s) exportée(s)"), first.out());
            assertTrue(first.out().contains("contient désormais 40 conversation(s)"), first.out());
            Run second = run("--nb", "40");
            assertEquals(80, assertValidFile().size());
            assertTrue(second.out().contains("relancez pour continuer"), second.out());
            Run third = run("--nb", "40");
            assertTrue(third.out().contains("Terminé : 15 conversation(s) exportée(s)"), third.out());
            assertTrue(third.out().contains("Tout l'historique est exporté"), third.out());
            assertComplete();
        }

        @Test
        void sendsTheSpecifiedRequestsAndHeaders() throws Exception {
            fake = FakeServer.crisp(45);
            Run r = run("--nb", "400");
            assertEquals(0, r.code(), r.all());
            // Le faux serveur refuse (401) toute requête sans Basic ni X-Crisp-Tier : réussir prouve les en-têtes.
            assertEquals(List.of("GET /v1/website/" + FakeServer.WEBSITE + "/conversations/1?per_page=20&order_date_updated=1",
                    "GET /v1/website/" + FakeServer.WEBSITE + "/conversations/2?per_page=20&order_date_updated=1",
                    "GET /v1/website/" + FakeServer.WEBSITE + "/conversations/3?per_page=20&order_date_updated=1",
                    "GET /v1/website/" + FakeServer.WEBSITE + "/conversations/4?per_page=20&order_date_updated=1"), fake.log);
            assertComplete();
            assertEquals(2, fake.partialAnswers, "les pages 1 et 2 sont des 206, traitées comme des succès");
            assertTrue(r.out().contains("4 requête(s) API utilisée(s)"), r.out());
        }

        @Test
        void limitReachedInsideAPageLeavesTheRestForTheNextRun() throws Exception {
            fake = FakeServer.crisp(60);
            assertEquals(0, run("--nb", "27").code());
            assertEquals(27, lines().size());
            assertEquals(20, state().path("walks").get(0).path("offset").asInt(), "la page entamée (la 2e) doit être relue");
            Run next = run("--nb", "13");
            assertEquals(40, lines().size(), next.out());
            assertTrue(next.out().contains("7 déjà présente(s)"), next.out());
            exportAll("--nb", "1000");
            assertComplete();
        }

        @Test
        void conversationsWithoutSessionIdAreIgnoredAndCounted() throws Exception {
            fake = FakeServer.crisp(0).withGaps();
            fake.add(40, false);   // une sur 5 sans session_id, une sur 7 sans active
            Run r = run("--nb", "400");
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("Terminé : 32 conversation(s) exportée(s), 8 ignorée(s) (0 déjà présente(s), 8 sans identifiant)"), r.out());
            assertComplete();
        }

        @Test
        void conversationsWithoutActivityGoLastInIdOrder() throws Exception {
            fake = FakeServer.crisp(0).withGaps();
            fake.add(70, false);
            assertEquals(0, run("--nb", "400").code());
            List<JsonNode> nodes = lines();
            List<String> tail = new ArrayList<>();
            boolean inTail = false;
            for (JsonNode n : nodes) {
                boolean missing = !n.has("active");
                if (inTail) assertTrue(missing, "une conversation datée après celles sans activité");
                inTail |= missing;
                if (missing) tail.add(n.path("session_id").asText());
            }
            assertFalse(tail.isEmpty());
            List<String> sorted = new ArrayList<>(tail);
            Collections.sort(sorted);
            assertEquals(sorted, tail);
            assertComplete();
        }

        @Test
        void resetStartsAgainFromScratch() throws Exception {
            fake = FakeServer.crisp(30);
            exportAll();
            Files.writeString(sibling(".rejected"), "à garder\n");
            Run r = run("--reset", "--nb", "10");
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("--reset"), r.out());
            assertTrue(r.out().contains("Terminé : 10 conversation(s) exportée(s), 0 ignorée(s)"), r.out());
            assertEquals(10, assertValidFile().size());
            assertEquals(1, state().path("walks").size());
        }

        @Test
        void rateLimitThenSuccessIsRetried() throws Exception {
            fake = FakeServer.crisp(50);
            fake.inject(new FakeServer.Status(429, null), new FakeServer.Status(420, null));
            Run r = run();
            assertEquals(0, r.code(), r.all());
            assertEquals(6, fake.requests);
            assertComplete();
        }

        @Test
        void quotaThatPersistsStopsCleanlyAndTheNextRunResumes() throws Exception {
            fake = FakeServer.crisp(100);
            fake.quota(3);
            Run r = run("--nb", "400");
            assertEquals(5, r.code(), r.all());
            assertTrue(r.err().contains("quota") && r.err().contains("relancez demain"), r.err());
            assertEquals(1, r.err().strip().lines().count(), "une seule phrase d'erreur");
            assertEquals(60, assertValidFile().size(), "les trois pages reçues sont gardées");
            assertTrue(r.out().contains("Arrêté avant la fin : 60 conversation(s)") && !r.out().contains("Tout l'historique est exporté"), r.out());
            fake.quota(-1);
            exportAll();
            assertComplete();
        }

        @Test
        void retryAfterBeyondTheWaitBudgetStopsAtOnceAndSaysWhen() throws Exception {
            fake = FakeServer.crisp(10);
            fake.always(new FakeServer.Status(429, "86400"));
            Run r = run();
            assertEquals(5, r.code(), r.all());
            assertEquals(1, fake.requests, "pas d'essai inutile quand l'API demande d'attendre un jour");
            assertTrue(r.err().contains("attendre jusqu'à"), r.err());
        }

        @Test
        void wrongKeyIsExplainedAndTouchesNothing() throws Exception {
            fake = FakeServer.crisp(30);
            assertEquals(0, run("--nb", "10").code());
            byte[] before = Files.readAllBytes(file());
            String stateBefore = Files.readString(sibling(".state.json"));
            Map<String, String> env = new HashMap<>(fake.env());
            env.put("CRISP_KEY_PROD", "wrong-secret-value");
            assertWrongKeyTouchedNothing(runWith(env), file(), before, sibling(".state.json"), stateBefore);
        }

        @Test
        void forbiddenAndUnknownWebsiteAreExplained() throws Exception {
            fake = FakeServer.crisp(5);
            fake.forbidden(true);
            Run forbidden = run();
            assertEquals(4, forbidden.code());
            assertTrue(forbidden.err().contains("website:conversation:sessions"), forbidden.err());
            fake.forbidden(false);
            Map<String, String> env = new HashMap<>(fake.env());
            env.put("ID_SITE_CRISP", "00000000-0000-0000-0000-000000000000");
            Run unknown = runWith(env);
            assertEquals(4, unknown.code());
            assertTrue(unknown.err().contains("ID_SITE_CRISP"), unknown.err());
        }

        @Test
        void missingVariableIsNamedAndNothingIsCreated() throws Exception {
            fake = FakeServer.crisp(5);
            for (String name : List.of("CRISP_IDENTIFIER_PROD", "CRISP_KEY_PROD", "ID_SITE_CRISP")) {
                Run r = runWith(without(fake.env(), name), "--reset");
                assertEquals(3, r.code(), r.all());
                assertTrue(r.err().contains(name), r.err());
            }
            assertEquals(0, fake.requests);
            assertFalse(Files.exists(file()));
            assertFalse(Files.exists(sibling(".lock")));
        }

        @Test
        void badOptionsAreUsageErrors() throws Exception {
            fake = FakeServer.crisp(5);
            for (String[] args : List.of(new String[] {"--nb", "0"}, new String[] {"--nb", "-3"}, new String[] {"--nb", "douze"},
                    new String[] {"--nb"}, new String[] {"--inconnue"}, new String[] {"--nb", "1", "--nb", "2"}, new String[] {"--source", "zendesk"}, new String[] {"--timeout", "0"}, new String[] {"--base-url", "ftp://exemple"})) {
                Run r = bare(fake.env(), args);
                assertEquals(2, r.code(), String.join(" ", args) + " → " + r.all());
                assertTrue(r.err().contains("Voir « conv --help »"), r.err());
                assertEquals(1, r.err().strip().lines().count(), r.err());
            }
            assertEquals(0, fake.requests);
        }

        @Test
        void helpAndVersionWork() throws Exception {
            Run help = bare(Map.of(), "--help");
            assertEquals(0, help.code());
            assertTrue(help.out().contains("--nb") && help.out().contains("Codes de sortie"), help.out());
            Run version = bare(Map.of(), "--version");
            assertEquals(0, version.code());
            assertTrue(version.out().startsWith("conv "), version.out());
        }

        @Test
        void defaultOutputIsTheConversationsFolderOfTheCheckout() throws Exception {
            fake = FakeServer.crisp(25);
            Files.writeString(dir.resolve("conv.java"), "// repère du dépôt");
            Files.createDirectories(dir.resolve("conversations"));
            Path below = Files.createDirectories(dir.resolve("bench/ailleurs"));
            Process p = bareChild(fake.env(), "--base-url", fake.url(), "--retry-base-ms", "1").directory(below.toFile()).start();
            String out = output(p);
            assertEquals(0, p.exitValue(), out);
            assertEquals(25, Files.readAllLines(dir.resolve("conversations/conversations.jsonl")).size());
            assertFalse(Files.exists(below.resolve("conversations")));
        }

        @Test
        void progressLinesAreShownRegularly() throws Exception {
            fake = FakeServer.crisp(60);
            Run r = run("--nb", "45");
            assertTrue(r.out().contains("page 1 : 20 exportée(s), 0 ignorée(s)"), r.out());
            assertTrue(r.out().contains("page 3 : 45 exportée(s)"), r.out());
        }
    }

    // ------------------------------------------------------------------ une liste qui bouge

    @Nested
    @DisplayName("Une liste qui bouge")
    class MovingList {
        @Test
        void newAndReactivatedConversationsDuringARunAreNotLost() throws Exception {
            fake = FakeServer.crisp(300);
            Random random = new Random(7);
            fake.beforeListPage(page -> {
                if (page == 1) return;
                fake.add(3, true);                                   // poussent tout vers le bas
                List<String> ids = fake.ids();
                fake.touch(ids.get(ids.size() - 1 - random.nextInt(ids.size() / 2)));   // remonte du bas de la liste
            });
            assertEquals(0, run("--nb", "10000").code());
            fake.beforeListPage(page -> { });
            exportAll();
            assertComplete();
        }

        @Test
        void listShiftingBetweenRunsLosesNothing() throws Exception {
            fake = FakeServer.crisp(200);
            assertEquals(0, run("--nb", "50").code());
            fake.add(25, true);
            List<String> exported = assertValidFile();
            for (int i = 0; i < 12; i++) fake.delete(exported.get(i * 3));     // au-dessus du curseur : la liste remonte
            List<String> ids = fake.ids();
            for (int i = 0; i < 5; i++) fake.touch(ids.get(ids.size() - 1 - i * 11));  // des anciennes remontent en tête
            exportAll("--nb", "60");
            Set<String> expected = new HashSet<>(fake.ids());
            Set<String> got = new HashSet<>(assertValidFile());
            assertTrue(got.containsAll(expected), "conversations sautées : " + diff(expected, got));
        }

        @Test
        void keepingTheFileCurrentCostsAboutOneRequestPer20New() throws Exception {
            fake = FakeServer.crisp(1000);
            Run full = run("--nb", "5000");
            assertEquals(0, full.code());
            assertEquals(51, fake.requests, "1 requête par page de 20, plus la page vide finale");
            List<String> old = fake.ids();
            fake.add(30, true);
            for (int i = 0; i < 5; i++) fake.touch(old.get(500 + i * 40));   // connues mais relancées : au-dessus des nouvelles
            int before = fake.requests;
            Run update = run();
            assertEquals(0, update.code(), update.all());
            // Ignorées : les 5 relancées, et les 5 anciennes qui finissent la 2e page.
            assertTrue(update.out().contains("Terminé : 30 conversation(s) exportée(s), 10 ignorée(s)"), update.out());
            assertEquals(2, fake.requests - before, "35 conversations au-dessus du filigrane : 2 pages, pas tout l'historique");
            Run nothing = run();
            assertTrue(nothing.out().contains("1 requête(s) API utilisée(s)"), nothing.out());
            assertComplete();
        }

        @Test
        void anInterruptedHeadWalkIsResumedUnderANewerOne() throws Exception {
            fake = FakeServer.crisp(100);
            exportAll("--nb", "1000");
            fake.add(50, true);
            assertEquals(0, run("--nb", "10").code());
            assertEquals(1, state().path("walks").size());
            fake.add(45, true);
            Run r = run("--nb", "1000");
            assertTrue(r.out().contains("Terminé : 85 conversation(s) exportée(s)"), r.out());
            assertTrue(r.out().contains("Tout l'historique est exporté"), r.out());
            assertComplete();
        }

        @Test
        void newConversationsOverSeveralPagesWithASmallNbAreAllExported() throws Exception {
            fake = FakeServer.crisp(300);
            exportAll("--nb", "1000");
            Random random = new Random(5);
            for (int day = 0; day < 4; day++) {
                fake.advanceClock(TimeUnit.HOURS.toMillis(20));                // un jour passe entre deux séries d'exécutions
                List<String> old = fake.ids();
                fake.add(45, true);                                          // plus de deux pages de nouveautés…
                for (int i = 0; i < 4; i++) fake.answer(old.get(100 + random.nextInt(200)));   // … et des anciennes remontent
                for (int i = 0; i < 3; i++) fake.visit(old.get(random.nextInt(old.size())));   // présence seule : ne bouge pas la liste
                for (int runs = 0; runs < 6; runs++) {
                    int before = fake.requests;
                    Run r = run("--nb", "10");                              // … exportées dix par dix
                    assertEquals(0, r.code(), r.all());
                    assertTrue(fake.requests - before <= 4, "une exécution ne relit que le haut de la liste : " + (fake.requests - before) + "\n" + r.out());
                    if (r.out().contains("Tout l'historique est exporté")) break;
                }
                assertComplete();
            }
        }

        @Test
        void conversationsAnsweredOrResolvedDuringTheFirstExportAreNotLost() throws Exception {
            fake = FakeServer.crisp(400);
            Random random = new Random(11);
            fake.beforeListPage(page -> {
                if (page == 1) return;
                List<String> ids = fake.ids();
                fake.resolve(ids.get(random.nextInt(ids.size())));        // des opérateurs résolvent et répondent pendant l'export
                fake.answer(ids.get(random.nextInt(ids.size())));
                fake.add(1, true);
            });
            Run first = run("--nb", "100000");
            assertEquals(0, first.code(), first.all());
            fake.beforeListPage(page -> { });
            exportAll();
            assertComplete();
            assertTrue(fake.orderedRequests == fake.listRequests, "chaque page est demandée triée par date de mise à jour");
        }

        @Test
        void aListServedInInboxOrderIsCaughtAndWalkedToTheEnd() throws Exception {
            fake = FakeServer.crisp(60);
            exportAll();
            fake.breakOrder(true);                                          // l'API ignore order_date_updated : ordre de la boîte de réception
            List<String> resolved = new ArrayList<>();
            for (String id : fake.inboxIds().subList(50, 60)) resolved.add(id);
            fake.add(25, true);
            for (String id : resolved.subList(0, 3)) fake.answer(id);      // répondues : elles restent sous des conversations plus anciennes
            int before = fake.requests;
            Run r = run("--refresh");
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("n'était pas dans l'ordre demandé"), r.out());
            assertEquals(1, r.out().split("n'était pas dans l'ordre demandé", -1).length - 1, "dit une seule fois : " + r.out());
            assertEquals(6, fake.requests - before, "tout l'historique (5 pages et la page vide) au lieu de s'arrêter au filigrane");
            assertTrue(r.out().contains("25 conversation(s) exportée(s)") && r.out().contains("3 mise(s) à jour"), r.out());
            Map<String, JsonNode> server = fake.snapshot();
            for (JsonNode line : lines()) assertEquals(server.get(line.path("session_id").asText()), line, "ligne à jour");
        }
    }

    // ------------------------------------------------------------------ --refresh : des lignes à jour

    @Nested
    @DisplayName("Garder le fichier à jour : --refresh et --full-refresh")
    class Refresh {
        @Test
        void answeredAndResolvedConversationsAreUpdatedWithoutExtraRequests() throws Exception {
            fake = FakeServer.crisp(100);
            exportAll();
            List<String> ids = fake.ids();
            String answered = ids.get(30), resolved = ids.get(50), returning = ids.get(70), present = ids.get(90);
            String presentBefore = lineOf(present);
            fake.answer(answered);
            fake.resolve(resolved);
            fake.touch(returning);                                          // le visiteur revient et écrit
            fake.visit(present);                                            // présence seule : updated_at ne bouge pas
            fake.add(5, true);
            int before = fake.requests;
            Run r = run("--refresh");
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("Terminé : 5 conversation(s) exportée(s)") && r.out().contains("3 mise(s) à jour"), r.out());
            assertEquals(1, fake.requests - before, "la page 1, déjà lue pour les nouveautés, suffit");
            for (String id : List.of(answered, resolved, returning)) assertEquals(fake.conversation(id), JSON.readTree(lineOf(id)), id);
            assertEquals(presentBefore, lineOf(present), "présence seule : rien à mettre à jour, rien de fait");
            assertEquals(105, assertValidFile().size());
        }

        @Test
        void withoutRefreshTheLinesStayAsExported() throws Exception {
            fake = FakeServer.crisp(40);
            exportAll();
            String id = fake.ids().get(10);
            String before = lineOf(id);
            fake.answer(id);
            Run r = run();
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("Terminé : 0 conversation(s) exportée(s)") && !r.out().contains("mise(s) à jour"), r.out());
            assertEquals(before, lineOf(id));
        }

        @Test
        void aConversationDeletedUpstreamStaysInTheFile() throws Exception {
            fake = FakeServer.crisp(50);
            exportAll();
            String gone = fake.ids().get(3);
            fake.delete(gone);
            fake.answer(fake.ids().get(0));
            assertEquals(0, run("--refresh").code());
            assertTrue(assertValidFile().contains(gone));
            assertEquals(50, lines().size());
        }

        @Test
        void killedDuringARefreshRunLeavesExactlyTheNewestVersionOfEach() throws Exception {
            fake = FakeServer.crisp(400);
            exportAll();
            List<String> ids = fake.ids();
            List<String> changed = new ArrayList<>();
            for (int i = 0; i < 150; i++) changed.add(ids.get(i * 2));
            for (String id : changed) fake.answer(id);
            // La 6e page ne répond pas : l'export a déjà écrit 5 pages de mises à jour quand on le tue.
            List<FakeServer.Fault> faults = new ArrayList<>(Collections.nCopies(6, new FakeServer.Pass()));
            faults.add(new FakeServer.Hang(60_000));
            fake.inject(faults.toArray(FakeServer.Fault[]::new));
            int start = fake.requests;
            Process p = child(fake.env(), "--refresh", "--timeout", "120").start();
            Thread drain = Reliability.drain(p);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (fake.requests < start + 7 && System.nanoTime() < deadline) Thread.sleep(5);
            assertTrue(p.isAlive(), "l'export devait être en cours");
            p.destroyForcibly().waitFor();
            drain.join();
            assertTrue(Files.readAllLines(file()).size() > 400, "des mises à jour avaient été ajoutées avant l'arrêt");
            Run r = run("--refresh");
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("ancienne(s) version(s) en double"), r.out());
            assertComplete();
            Map<String, JsonNode> server = fake.snapshot();
            for (JsonNode line : lines()) assertEquals(server.get(line.path("session_id").asText()), line, "la version la plus récente");
        }

        @Test
        void webaRefreshFetchesTheDialogOfChangedConversations() throws Exception {
            fake = FakeServer.weba(150);
            exportAll();
            List<String> ids = fake.ids();
            for (String id : List.of(ids.get(5), ids.get(60), ids.get(120))) fake.touch(id);
            int before = fake.requests;
            Run r = run("--refresh");
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("3 mise(s) à jour"), r.out());
            assertEquals(1 + 3, fake.requests - before, "la page 1 et une fiche par conversation mise à jour");
            for (String id : List.of(ids.get(5), ids.get(60), ids.get(120))) {
                JsonNode line = JSON.readTree(lineOf(id));
                assertEquals(fake.conversation(id).path("message_count"), line.path("message_count"), id);
                assertEquals(line.path("message_count").asInt(), line.path("dialog").size());
            }
            assertComplete();
        }

        @Test
        void fullRefreshWalksTheWholeHistoryWithinMaxRequestsAndResumes() throws Exception {
            fake = FakeServer.crisp(200);
            exportAll();
            List<String> ids = fake.ids();
            List<String> changed = List.of(ids.get(15), ids.get(99), ids.get(180));
            for (String id : changed) fake.answer(id);
            assertEquals(0, run().code());                                  // une exécution sans --refresh : lignes restées anciennes
            for (String id : changed) assertFalse(fake.conversation(id).equals(JSON.readTree(lineOf(id))));
            int runs = 0;
            while (true) {
                int before = fake.requests;
                Run r = run("--full-refresh", "--max-requests", "4");
                assertEquals(0, r.code(), r.all());
                assertTrue(fake.requests - before <= 4, "au plus 4 requêtes : " + (fake.requests - before));
                runs++;
                if (r.out().contains("Tout l'historique est exporté")) break;
                assertTrue(runs < 10, "le parcours complet ne finit pas : " + r.out());
            }
            assertTrue(runs >= 3, "11 pages à 4 requêtes par exécution : plusieurs exécutions");
            for (String id : changed) assertEquals(fake.conversation(id), JSON.readTree(lineOf(id)), id);
            assertComplete();
        }

        @Test
        void maxRequestsCutsOnlyBeforeARequestAndEveryRunMakesProgress() throws Exception {
            fake = FakeServer.crisp(100);
            assertEquals(2, run("--max-requests", "2").code(), "moins de 3 : un parcours entamé n'avancerait pas");
            for (int runs = 1; ; runs++) {
                int before = fake.requests;
                Run r = run("--max-requests", "3");
                assertEquals(0, r.code(), r.all());
                assertTrue(fake.requests - before <= 3, "au plus 3 requêtes : " + (fake.requests - before));
                // 3 pages la première fois ; ensuite la page 1, la page relue et une nouvelle.
                assertEquals(Math.min(100, 60 + 20 * (runs - 1)), lines().size(), "chaque exécution avance (exécution " + runs + ")");
                if (r.out().contains("Tout l'historique est exporté")) break;
                assertTrue(runs < 6, r.out());
            }
            assertComplete();
        }

        @Test
        void maxRequestsDoesNotCountRetriesAndSaysSo() throws Exception {
            fake = FakeServer.crisp(200);
            assertEquals(0, run("--max-requests", "3").code());
            int before = fake.requests;
            fake.inject(new FakeServer.Status(503, null), new FakeServer.Pass(), new FakeServer.Status(503, null), new FakeServer.Pass(),
                    new FakeServer.Status(503, null), new FakeServer.Pass());
            Run r = run("--max-requests", "3");
            assertEquals(0, r.code(), r.all());
            assertEquals(6, fake.requests - before, "3 pages demandées, chacune après un nouvel essai");
            assertTrue(r.out().contains("6 requête(s) API utilisée(s) (dont 3 nouvel(s) essai(s)"), r.out());
            assertTrue(r.out().contains("Terminé : 20 conversation(s) exportée(s)"), "l'exécution avance malgré les essais : " + r.out());
        }

        @Test
        void aStateOfTheFormerFormatIsMigratedByOneFullWalk() throws Exception {
            fake = FakeServer.crisp(120);
            exportAll();
            List<String> lines = new ArrayList<>(Files.readAllLines(file()));
            List<String> missed = new ArrayList<>();
            for (int i = 0; i < 3; i++) missed.add(JSON.readTree(lines.remove(10 + i * 30)).path("session_id").asText());
            Files.write(file(), lines);                                     // ce qu'un ancien parcours sur active.last aurait manqué
            long watermark = lines().stream().mapToLong(ConvTest.this::activity).max().orElseThrow();
            Files.writeString(sibling(".state.json"), "{\"format\":1,\"source\":\"crisp\",\"account\":\"" + FakeServer.WEBSITE
                    + "\",\"watermark\":" + watermark + ",\"walks\":[]}");
            int before = fake.requests;
            Run r = run("--nb", "1000");
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("État d'une version précédente"), r.out());
            assertEquals(7, fake.requests - before, "un parcours complet, une fois : 6 pages et la page vide");
            assertTrue(r.out().contains("Terminé : 3 conversation(s) exportée(s)"), r.out());
            assertComplete();
            assertEquals(conv.State.FORMAT, state().path("format").asInt());
            before = fake.requests;
            assertEquals(0, run().code());
            assertEquals(1, fake.requests - before, "ensuite, une exécution sans nouveauté ne lit que la page 1");
        }

        String lineOf(String id) throws IOException {
            for (String line : Files.readAllLines(file())) if (JSON.readTree(line).path(idField()).asText().equals(id)) return line;
            throw new AssertionError("pas de ligne pour " + id);
        }
    }

    static Set<String> diff(Set<String> expected, Set<String> got) {
        Set<String> missing = new HashSet<>(expected);
        missing.removeAll(got);
        return missing;
    }

    // ------------------------------------------------------------------ pannes, fichiers, arrêts brutaux

    @Nested
    @DisplayName("Rien de perdu, rien en double ; fichier toujours lisible ; une exécution à la fois")
    class Reliability {
        @Test
        void killedAtRandomMomentsThenResumedLosesAndDoublesNothing() throws Exception {
            fake = FakeServer.crisp(1500);
            Random random = new Random(2026);
            // Chaque page prend quelques millisecondes : l'export dure, et on le tue en plein travail.
            fake.beforeListPage(page -> sleepQuietly(15));
            int killed = 0;
            for (int round = 0; round < 6; round++) {
                int target = fake.listRequests + 2 + random.nextInt(25);
                Process p = child(fake.env(), "--nb", "900").start();
                Thread drain = drain(p);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (fake.listRequests < target && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(1);
                Thread.sleep(random.nextInt(10));
                if (p.isAlive()) killed++;
                p.destroyForcibly().waitFor();
                drain.join();
                assertLinesValidAndUnique(true);
                List<String> ids = fake.ids();
                fake.add(random.nextInt(30), true);
                for (int i = 0; i < 3; i++) fake.answer(ids.get(random.nextInt(ids.size())));   // des anciennes remontent
            }
            assertTrue(killed >= 5, "l'export devait tourner encore quand il a été tué (" + killed + " fois sur 6)");
            fake.beforeListPage(page -> { });
            exportAll("--nb", "100000");
            assertComplete();
        }

        static Thread drain(Process p) {
            Thread drain = new Thread(() -> {
                try { p.getInputStream().transferTo(java.io.OutputStream.nullOutputStream()); } catch (IOException ignored) { }
            });
            drain.start();
            return drain;
        }

        /** Toutes les lignes complètes sont valides et uniques ; seule la dernière peut être déchirée si on le permet. */
        void assertLinesValidAndUnique(boolean tornTailAllowed) throws IOException {
            if (!Files.exists(file())) return;
            String text = Files.readString(file());
            int end = text.lastIndexOf('\n') + 1;
            if (!tornTailAllowed) assertEquals(text.length(), end, "dernière ligne déchirée");
            Set<String> ids = new HashSet<>();
            for (String line : text.substring(0, end).split("\n")) {
                if (line.isEmpty()) continue;
                String id = JSON.readTree(line).path("session_id").asText();
                assertTrue(ids.add(id), "doublon après un arrêt brutal : " + id);
            }
        }

        @Test
        void tornLastLineIsRepairedAndReExported() throws Exception {
            fake = FakeServer.crisp(50);
            assertEquals(0, run("--nb", "30").code());
            // Un arrêt pendant l'ajout de la page 2 : la ligne d'une de ses conversations n'est écrite qu'à moitié, à la fin.
            String lostId = fake.ids().get(29);
            List<String> lines = new ArrayList<>(Files.readAllLines(file()));
            String lost = lines.stream().filter(l -> l.contains(lostId)).findFirst().orElseThrow();
            lines.remove(lost);
            Files.writeString(file(), String.join("\n", lines) + "\n" + lost.substring(0, lost.length() / 2));
            Run r = run("--nb", "1000");
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("Dernière ligne incomplète"), r.out());
            assertComplete();
            assertFalse(Files.exists(sibling(".rejected")), "le fragment n'est pas une ligne à garder");
        }

        @Test
        void completeLastLineWithoutNewlineIsKept() throws Exception {
            fake = FakeServer.crisp(20);
            exportAll();
            String text = Files.readString(file());
            Files.writeString(file(), text.substring(0, text.length() - 1));   // un éditeur a retiré la fin de ligne
            Run r = run();
            assertFalse(r.out().contains("incomplète"), r.out());
            assertComplete();
        }

        @Test
        void corruptedMiddleLineIsKeptAsideAndNamed() throws Exception {
            fake = FakeServer.crisp(40);
            exportAll();
            List<String> lines = new ArrayList<>(Files.readAllLines(file()));
            String damaged = lines.get(11).substring(0, 50) + "#édité à la main";
            lines.set(11, damaged);
            Files.write(file(), lines);
            Run r = run();
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("ligne(s) 12") && r.out().contains(".rejected"), r.out());
            assertEquals(damaged + "\n", Files.readString(sibling(".rejected")));
            assertEquals(39, assertValidFile().size());
        }

        @Test
        void fileLeftUnsortedIsSortedWithBoundedMemory() throws Exception {
            fake = FakeServer.crisp(300);
            exportAll();
            List<String> lines = new ArrayList<>(Files.readAllLines(file()));
            Collections.shuffle(lines, new Random(3));
            lines.add(5, lines.get(9));           // un doublon ajouté à la main
            lines.add(17, "");                   // et une ligne vide
            Files.write(file(), lines);
            Run r = run("--sort-chunk-bytes", "20000");   // force le tri externe par morceaux écrits à part
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("n'est pas entièrement trié"), r.out());
            assertComplete();
            assertFalse(Files.exists(sibling(".sort")));
        }

        @Test
        void linesInsertedAllOverALargeFileAreMergedByBlocksWithoutDamage() throws Exception {
            fake = FakeServer.crisp(3000);
            exportAll("--nb", "100000");
            Random random = new Random(9);
            for (int day = 0; day < 3; day++) {
                List<Long> presences = lines().stream().map(ConvTest.this::activity).filter(a -> a != Long.MIN_VALUE).toList();
                Set<String> before = new HashSet<>(fake.ids());
                fake.add(8, true);
                List<String> fresh = fake.ids().stream().filter(id -> !before.contains(id)).toList();
                // Des présences réparties dans tout le fichier, et quelques-unes absentes (en fin de fichier) :
                // la partie triée est recopiée par blocs entre les lignes insérées.
                for (int i = 0; i < fresh.size(); i++)
                    fake.setPresence(fresh.get(i), i % 4 == 0 ? null : presences.get(random.nextInt(presences.size())) + 1);
                Run r = run("--nb", "1000");
                assertEquals(0, r.code(), r.all());
                assertComplete();
                Map<String, JsonNode> served = fake.snapshot();
                for (JsonNode line : lines()) assertEquals(served.get(line.path("session_id").asText()), line, "ligne intacte après la fusion");
            }
        }

        @Test
        void leftoversOfACrashDuringSortOrStateWriteAreHarmless() throws Exception {
            fake = FakeServer.crisp(60);
            assertEquals(0, run("--nb", "30").code());
            // Arrêt pendant le tri final : un fichier temporaire à moitié écrit. Pendant l'écriture de l'état : idem.
            Files.writeString(sibling(".tmp"), "{\"session_id\":\"moitié");
            Files.writeString(sibling(".state.json.tmp"), "{\"format\":");
            exportAll("--nb", "1000");
            assertComplete();
            assertFalse(Files.exists(sibling(".tmp")));
            assertFalse(Files.exists(sibling(".state.json.tmp")));
        }

        @Test
        void linesAppendedButNotRecordedInStateAreNotDoubled() throws Exception {
            fake = FakeServer.crisp(60);
            assertEquals(0, run("--nb", "20").code());
            String state = Files.readString(sibling(".state.json"));
            assertEquals(0, run("--nb", "20").code());
            Files.writeString(sibling(".state.json"), state);   // l'état d'avant la 2e exécution
            exportAll("--nb", "1000");
            assertComplete();
        }

        @Test
        void secondRunAtTheSameTimeRefusesAtOnce() throws Exception {
            fake = FakeServer.crisp(40);
            fake.inject(new FakeServer.Hang(20_000));
            Process first = child(fake.env(), "--timeout", "30").start();
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (fake.requests == 0 && System.nanoTime() < deadline) Thread.sleep(20);
                assertEquals(1, fake.requests, "la première exécution n'a pas démarré");
                Run second = run();
                assertEquals(8, second.code(), second.all());
                assertTrue(second.err().contains("Une autre exécution"), second.err());
                assertEquals(1, fake.requests, "la seconde exécution n'a rien demandé à l'API");
            } finally {
                first.destroyForcibly().waitFor();
            }
            assertEquals(0, run().code());
            assertComplete();
        }

        @Test
        void fullDiskStopsCleanlyAndKeepsThePreviousFile() throws Exception {
            fake = FakeServer.crisp(300);
            assertEquals(0, run("--nb", "20").code());
            List<String> before = Files.readAllLines(file());
            // Plafond de taille de fichier (ulimit -f, en Ko) : les écritures échouent comme sur un disque plein.
            ProcessBuilder pb = child(fake.env(), "--nb", "1000");
            List<String> command = new ArrayList<>(List.of("bash", "-c", "ulimit -f 100; exec \"$@\"", "conv"));
            command.addAll(pb.command());
            Process p = pb.command(command).start();
            String out = output(p);
            assertEquals(7, p.exitValue(), out);
            assertTrue(out.contains("taille maximale de fichier atteinte") && out.contains("intact"), out);
            assertFalse(out.contains("Exception"), out);
            assertTrue(Files.readAllLines(file()).containsAll(before), "des lignes d'avant ont disparu");
            assertLinesValidAndUnique(false);
            exportAll("--nb", "1000");
            assertComplete();
        }

        @Test
        void readOnlyFolderIsExplainedAndTheFileIsIntact() throws Exception {
            fake = FakeServer.crisp(60);
            Path folder = dir.resolve("ro");
            Files.createDirectories(folder);
            boolean root = "root".equals(System.getProperty("user.name"));
            if (root) Assumptions.assumeTrue(exec("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", folder.toString()) == 0,
                    "mount indisponible : pas de dossier en lecture seule possible pour root");
            try {
                Path output = folder.resolve("conversations.jsonl");
                Run first = runWith(fake.env(), "--output", output.toString(), "--nb", "20");
                assertEquals(0, first.code(), first.all());
                byte[] before = Files.readAllBytes(output);
                if (root) assertEquals(0, exec("mount", "-o", "remount,ro", folder.toString()));
                else Files.setPosixFilePermissions(folder, PosixFilePermissions.fromString("r-xr-xr-x"));
                Run r = runWith(fake.env(), "--output", output.toString(), "--nb", "20");
                assertEquals(7, r.code(), r.all());
                assertTrue(r.err().contains("lecture seule") || r.err().contains("permission refusée"), r.err());
                assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(output)));
            } finally {
                if (root) exec("umount", "-l", folder.toString());
                else Files.setPosixFilePermissions(folder, PosixFilePermissions.fromString("rwxr-xr-x"));
            }
        }

        static int exec(String... command) throws Exception {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
            return p.waitFor();
        }

        @Test
        void indexIsTrustedOnlyWhileTheFileIsUnchanged() throws Exception {
            fake = FakeServer.crisp(70);
            exportAll();
            Path index = sibling(".index");
            assertTrue(Files.exists(index));
            try (conv.Store store = openStore()) {
                assertTrue(store.indexed(), "l'index d'un fichier inchangé doit servir");
                assertEquals(70, store.count());
            }
            Files.writeString(file(), Files.readString(file()) + "\n");      // le fichier a changé : l'index ne vaut plus
            try (conv.Store store = openStore()) {
                assertFalse(store.indexed());
                assertEquals(70, store.count());
            }
            Files.writeString(index, "abîmé");
            try (conv.Store store = openStore()) {
                assertFalse(store.indexed());
                assertEquals(70, store.count());
            }
            fake.add(5, true);
            assertEquals(0, run().code());
            assertComplete();
        }

        conv.Store openStore() {
            return conv.Store.open(file(), conv.Crisp.INFO, FakeServer.WEBSITE, new conv.Progress(new PrintWriter(new StringWriter()), System::nanoTime, conv.Crisp.INFO.noun()), false,
                    conv.Store.DEFAULT_CHUNK_BYTES);
        }

        @Test
        void exportAndStateAreReadableByTheirOwnerOnly() throws Exception {
            fake = FakeServer.crisp(10);
            assertEquals(0, run().code());
            for (String suffix : List.of("", ".state.json", ".lock", ".index"))
                assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(sibling(suffix))), suffix);
            String everything = Files.readString(file()) + Files.readString(sibling(".state.json"));
            assertFalse(everything.contains(FakeServer.KEY), "la clé est écrite sur le disque");
        }

        @Test
        void unreadableStateIsExplained() throws Exception {
            fake = FakeServer.crisp(10);
            assertEquals(0, run().code());
            Files.writeString(sibling(".state.json"), "{ pas du json");
            Run r = run();
            assertEquals(3, r.code(), r.all());
            assertTrue(r.err().contains("illisible") && r.err().contains("supprimez-le"), r.err());
        }

        @Test
        void stateOfAnotherSourceOrAccountIsRefused() throws Exception {
            fake = FakeServer.crisp(10);
            assertEquals(0, run().code());
            Map<String, String> env = new HashMap<>(fake.env());
            env.put("ID_SITE_CRISP", "11111111-2222-3333-4444-555555555555");
            Run other = runWith(env);
            assertEquals(3, other.code(), other.all());
            assertTrue(other.err().contains(FakeServer.WEBSITE) && other.err().contains("11111111-2222-3333-4444-555555555555"), other.err());
            assertTrue(other.err().contains("--output") && !other.err().contains("--reset"), "--reset effacerait l'export : " + other.err());
            fake.close();
            fake = FakeServer.weba(5);
            Run weba = run();
            assertEquals(3, weba.code(), weba.all());
        }
    }

    // ------------------------------------------------------------------ réseau

    @Nested
    @DisplayName("Arrêts propres : réseau et API en difficulté")
    class Network {
        @Test
        void serverErrorsDropsHtmlAndHangsAreRetried() throws Exception {
            fake = FakeServer.crisp(70);
            fake.inject(new FakeServer.Status(500, null), new FakeServer.Drop(), new FakeServer.Html(),
                    new FakeServer.Hang(3000), new FakeServer.Status(503, "0"));
            Run r = run("--timeout", "1");
            assertEquals(0, r.code(), r.all());
            assertEquals(5 + 5, fake.requests, "5 fautes, 4 pages et la page vide");
            assertComplete();
        }

        @Test
        void persistentOutageStopsCleanlyWithProgressKept() throws Exception {
            fake = FakeServer.crisp(80);
            fake.beforeListPage(page -> { if (page == 3) fake.always(new FakeServer.Status(502, null)); });
            Run r = run();
            assertEquals(6, r.code(), r.all());
            assertTrue(r.err().contains("ne répond pas correctement") && r.err().contains("502"), r.err());
            assertEquals(60, assertValidFile().size(), "les trois pages servies avant la panne sont gardées");
            fake.always(null);
            fake.beforeListPage(page -> { });
            exportAll();
            assertComplete();
        }

        @Test
        void retryWaitsGrowAndStayBounded() throws Exception {
            conv.RetryPolicy policy = conv.RetryPolicy.standard(Duration.ofMillis(1000));
            Duration total = Duration.ZERO;
            for (int retry = 0; retry < policy.maxRetries(); retry++) {
                Duration d = policy.delay(retry, total, null).orElseThrow();
                long ceiling = Math.min(30_000, 1000L << retry);
                assertTrue(d.toMillis() >= ceiling / 2 && d.toMillis() <= ceiling, retry + " → " + d);
                total = total.plus(d);
            }
            assertTrue(policy.delay(policy.maxRetries(), total, null).isEmpty());
            assertTrue(policy.delay(0, Duration.ZERO, Duration.ofHours(2)).isEmpty(), "Retry-After au-delà du budget");
            assertEquals(Duration.ofSeconds(7), policy.delay(0, Duration.ZERO, Duration.ofSeconds(7)).orElseThrow());
        }

        @Test
        void unreachableApiIsExplained() throws Exception {
            fake = FakeServer.crisp(1);
            String url = fake.url();
            fake.close();
            Run r = bare(fake.env(), "--base-url", url, "--output", file().toString(), "--retry-base-ms", "1");
            assertEquals(6, r.code(), r.all());
            assertTrue(r.err().contains("connexion impossible"), r.err());
            fake = null;
        }

        @Test
        void anEndlessBodyIsCutAtTheSizeCapWhileItIsRead() throws Exception {
            fake = FakeServer.crisp(20);
            fake.inject(new FakeServer.Endless());
            // Un client qui lirait tout avant de compter n'atteindrait jamais la fin : il tomberait sur le délai, réessaierait et réussirait.
            Run r = run("--timeout", "30");
            assertEquals(6, r.code(), r.all());
            assertTrue(r.err().contains("plus de " + (conv.MAX_BODY >> 20) + " Mo") && r.err().contains("signalez-le"), r.err());
            assertEquals(1, fake.requests, "pas de nouvel essai");
            assertTrue(fake.awaitHangUps(1), "conv a fermé la connexion");
            assertFalse(Files.exists(file()));
        }

        @Test
        void answersCarryTheServerDateAndRequestsNameConv() throws Exception {
            try (FakeServer.Recorder other = FakeServer.recorder()) {
                conv.Http http = new conv.Http(Duration.ofSeconds(30), conv.RetryPolicy.standard(Duration.ofMillis(1)), new conv.Pacer(null), "");
                conv.Http.Answer answer = http.get(java.net.URI.create(other.url() + "/v1/essai"), Map.of("X-Essai", "1"));
                assertEquals(200, answer.status());
                assertNotNull(answer.date(), "l'en-tête Date du serveur est lu");
                Map<String, List<String>> sent = other.headers.get(0);
                assertTrue(sent.get("user-agent").get(0).startsWith("conv/"), sent.toString());
                assertEquals(List.of("1"), sent.get("x-essai"));
            }
            java.time.Instant at = java.time.Instant.parse("2026-12-01T08:53:16Z");
            assertEquals(at, conv.Http.date("Tue, 1 Dec 2026 08:53:16 GMT"));
            for (String unreadable : new String[] {null, "", "demain", "2026-12-01T08:53:16Z", "Tue, 32 Dec 2026 08:53:16 GMT"})
                assertEquals(null, conv.Http.date(unreadable), unreadable);
            // Une date de Retry-After se lit sur l'horloge du serveur quand il la donne, pas sur la nôtre.
            assertEquals(Duration.ofSeconds(90), conv.Http.retryAfter("Tue, 1 Dec 2026 08:54:46 GMT", at));
            assertEquals(Duration.ZERO, conv.Http.retryAfter("Tue, 1 Dec 2026 08:50:00 GMT", at));
            assertEquals(Duration.ofSeconds(7), conv.Http.retryAfter(" 7 ", null));
            assertEquals(null, conv.Http.retryAfter("bientôt", at));
        }

        @Test
        void credentialsAHeaderCannotCarryAreRefusedWithoutBeingPrinted() throws Exception {
            fake = FakeServer.weba(5);
            for (String value : List.of("tok-secret-9f1€", "tok-secret-9f1\u00a0")) {
                Map<String, String> env = new HashMap<>(fake.env());
                env.put("WEBA_AUTH_TOKEN", value);
                Run r = runWith(env);
                assertEquals(3, r.code(), r.all());
                assertTrue(r.err().contains("WEBA_AUTH_TOKEN") && r.err().contains("non ASCII"), r.err());
                assertFalse(r.all().contains("tok-secret"), r.all());
            }
            assertEquals(0, fake.requests);
        }
    }

    // ------------------------------------------------------------------ Weba-AI

    @Nested
    @DisplayName("Export Weba-AI")
    class WebaExport {
        @Test
        void exportsEveryConversationWithItsWholeDialog() throws Exception {
            fake = FakeServer.weba(250);
            Run r = run("--nb", "1000");
            assertEquals(0, r.code(), r.all());
            assertComplete();
            JsonNode line = lines().get(0);
            for (String field : List.of("id", "bot_hash", "client_id", "user_id", "dialog", "message_count", "ip_address", "referrer", "last_message_at"))
                assertTrue(line.has(field), "champ perdu : " + field);
            assertEquals(line.path("message_count").asInt(), line.path("dialog").size());
            assertEquals(3 + 250, fake.requests, "3 pages de 100 et une fiche par conversation");
            assertTrue(fake.log.get(0).contains("limit=100&offset=0&sort=newest"), fake.log.get(0));
        }

        @Test
        void resumesAcrossRunsAndPicksUpNewConversations() throws Exception {
            fake = FakeServer.weba(0).withGaps();
            fake.add(230, false);
            Run first = run("--nb", "150");
            assertTrue(first.out().contains("150 conversation(s) exportée(s)"), first.out());
            fake.add(12, true);
            List<String> ids = fake.ids();
            fake.touch(ids.get(ids.size() - 3));
            exportAll("--nb", "150");
            assertComplete();
            fake.add(7, true);                       // dont une sans identifiant (une sur cinq)
            Run later = run();
            assertTrue(later.out().contains("Terminé : 6 conversation(s) exportée(s)"), later.out());
            assertComplete();
        }

        @Test
        void conversationWhoseDetailIsMissingIsKeptWithoutItsDialog() throws Exception {
            fake = FakeServer.weba(30);
            String lost = fake.ids().get(4);
            fake.loseDetail(lost);
            Run r = run();
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("1 sans dialogue"), r.out());
            assertComplete();
            JsonNode line = lines().stream().filter(n -> n.path("id").asText().equals(lost)).findFirst().orElseThrow();
            assertEquals("introuvable", line.path("conv_dialog_missing").asText(), line.toString());
            assertFalse(line.has("dialog"), "l'élément de liste, pas une autre fiche");
        }

        @Test
        void tokenAndBotErrorsAreExplained() throws Exception {
            fake = FakeServer.weba(5);
            Map<String, String> env = new HashMap<>(fake.env());
            env.put("WEBA_AUTH_TOKEN", "expired-token-value");
            Run token = runWith(env);
            assertEquals(4, token.code(), token.all());
            assertTrue(token.err().contains("INVALID_TOKEN") && token.err().contains("WEBA_AUTH_TOKEN"), token.err());
            assertFalse(token.all().contains("expired-token-value"));
            env = new HashMap<>(fake.env());
            env.put("WEBA_BOT_HASH", "ffffffffffffffffffffffffffffffff");
            Run bot = runWith(env);
            assertEquals(4, bot.code(), bot.all());
            assertTrue(bot.err().contains("BOT_NOT_FOUND") && bot.err().contains("WEBA_BOT_HASH"), bot.err());
            Run missing = runWith(without(fake.env(), "WEBA_AUTH_TOKEN"));
            assertEquals(3, missing.code());
            assertTrue(missing.err().contains("WEBA_AUTH_TOKEN"), missing.err());
            fake.always(new FakeServer.Status(400, null));
            Run bad = runWith(fake.env());
            assertEquals(6, bad.code(), bad.all());
            assertTrue(bad.err().contains("HTTP 400"), bad.err());
        }

        @Test
        void pacingStaysUnderTheRateLimitThatAnUnpacedRunTrips() throws Exception {
            fake = FakeServer.weba(14);
            fake.rateLimit(5, 1000);     // 5 requêtes par seconde au plus
            Run unpaced = run("--nb", "14");
            assertEquals(5, unpaced.code(), "sans rythme, la limite est atteinte : " + unpaced.all());
            assertTrue(unpaced.err().contains("100 requêtes par minute"), unpaced.err());
            int trippedBefore = fake.rateLimited;
            assertTrue(trippedBefore > 0);
            Thread.sleep(1100);
            Run paced = run("--nb", "14", "--requests-per-minute", "240");
            assertEquals(0, paced.code(), paced.all());
            assertEquals(trippedBefore, fake.rateLimited, "le rythme de 4 requêtes par seconde n'a jamais heurté la limite");
            assertComplete();
        }

        @Test
        void killedInTheMiddleOfALongPageKeepsWhatWasAlreadyFetched() throws Exception {
            fake = FakeServer.weba(100);
            List<FakeServer.Fault> faults = new ArrayList<>(Collections.nCopies(1 + 30, new FakeServer.Pass()));
            faults.add(new FakeServer.Hang(60_000));          // la 31e fiche ne répond pas : on tue l'export là
            fake.inject(faults.toArray(FakeServer.Fault[]::new));
            Process p = child(fake.env(), "--source", "weba", "--requests-per-minute", "600000").start();
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (fake.requests < 32 && System.nanoTime() < deadline) Thread.sleep(20);
            } finally {
                p.destroyForcibly().waitFor();
            }
            assertEquals(20, lines().size(), "les 20 premières fiches étaient déjà écrites");
            assertEquals(0, run().code());
            assertComplete();
        }

        @Test
        void rateLimitAnswerFromAnotherClientIsRetried() throws Exception {
            fake = FakeServer.weba(20);
            fake.inject(new FakeServer.Status(429, "0"));
            assertEquals(0, run().code());
            assertEquals(1, fake.rateLimited);
            assertComplete();
        }

        @Test
        void listMovingDuringARunLosesNothing() throws Exception {
            fake = FakeServer.weba(350);
            fake.beforeListPage(page -> { if (page > 1) fake.add(40, true); });
            assertEquals(0, run("--nb", "10000").code());
            fake.beforeListPage(page -> { });
            exportAll("--nb", "10000");
            assertComplete();
        }
    }

    // ------------------------------------------------------------------ issue 17 : les derniers trous de l'export de la liste

    @Nested
    @DisplayName("Issue 17 : --refresh après des exécutions sans, lignes réparées, horloge du serveur, comptes, erreurs en une fois")
    class ListGaps {
        JsonNode lineOf(String id) throws IOException {
            for (JsonNode line : lines()) if (line.path(idField()).asText().equals(id)) return line;
            throw new AssertionError("pas de ligne pour " + id);
        }

        @Test
        void refreshAfterRunsWithoutItAppliesWhatTheyMissedAtTheCostOfThePagesInBetween() throws Exception {
            fake = FakeServer.crisp(200);
            exportAll();
            List<String> ids = fake.ids();
            List<String> changed = new ArrayList<>();
            for (int i = 0; i < 25; i++) changed.add(ids.get(10 + i * 7));
            for (String id : changed.subList(0, 15)) fake.answer(id);
            assertEquals(0, run().code());                                  // sans --refresh : le filigrane passe au-dessus
            for (String id : changed.subList(15, 25)) fake.resolve(id);
            assertEquals(0, run().code());
            for (String id : changed) assertNotEquals(fake.conversation(id), lineOf(id), "encore ancienne : " + id);
            int before = fake.requests;
            Run r = run("--refresh");
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("25 mise(s) à jour"), r.out());
            assertEquals(2, fake.requests - before, "les 25 changées tiennent en deux pages, pas les 11 de tout l'historique");
            for (String id : changed) assertEquals(fake.conversation(id), lineOf(id), id);
            before = fake.requests;
            assertEquals(0, run("--refresh").code());
            assertEquals(1, fake.requests - before, "ensuite, rien à rattraper : la page 1 seule");
            assertComplete();
        }

        @Test
        void webaRefreshAfterRunsWithoutItFetchesOnlyTheChangedDialogs() throws Exception {
            fake = FakeServer.weba(250);
            exportAll();
            List<String> ids = fake.ids();
            List<String> changed = List.of(ids.get(20), ids.get(130), ids.get(240));
            for (String id : changed) fake.touch(id);
            assertEquals(0, run().code());
            int before = fake.requests;
            Run r = run("--refresh");
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("3 mise(s) à jour"), r.out());
            assertEquals(1 + 3, fake.requests - before, "la page 1 et une fiche par conversation changée");
            for (String id : changed) assertEquals(fake.conversation(id).path("dialog"), lineOf(id).path("dialog"), id);
            assertComplete();
        }

        @Test
        void aStateOfFormat2RefreshesTheWholeHistoryOnceThenOnlyWhatChanged() throws Exception {
            fake = FakeServer.crisp(100);
            exportAll();
            String stale = fake.ids().get(70);
            fake.answer(stale);
            assertEquals(0, run().code());
            com.fasterxml.jackson.databind.node.ObjectNode old = (com.fasterxml.jackson.databind.node.ObjectNode) state();
            old.put("format", 2).remove(List.of("refreshedTo", "recover"));
            Files.write(sibling(".state.json"), JSON.writeValueAsBytes(old));
            int before = fake.requests;
            Run r = run("--refresh");
            assertEquals(0, r.code(), r.all());
            assertEquals(6, fake.requests - before, "rien ne dit ce qui a été appliqué : tout l'historique, une fois");
            assertEquals(fake.conversation(stale), lineOf(stale));
            before = fake.requests;
            assertEquals(0, run("--refresh").code());
            assertEquals(1, fake.requests - before);
        }

        @Test
        void linesRemovedByTheRepairComeBackOneRequestEachAndSurviveAStop() throws Exception {
            for (FakeServer.Kind kind : FakeServer.Kind.values()) {
                for (String suffix : List.of("", ".state.json", ".index", ".rejected")) Files.deleteIfExists(sibling(suffix));
                if (fake != null) fake.close();
                // Hors de la page 1 (20 chez Crisp, 100 chez Weba-AI), qui les réexporterait d'elle-même.
                fake = kind == FakeServer.Kind.CRISP ? FakeServer.crisp(60) : FakeServer.weba(250);
                exportAll();
                List<String> ids = fake.ids();
                int n = ids.size();
                String corrupt = ids.get(n / 2), torn = ids.get(n * 3 / 4), unnamed = ids.get(n * 5 / 6);
                List<String> lines = new ArrayList<>();
                String tornLine = null;
                for (String line : Files.readAllLines(file())) {
                    String id = JSON.readTree(line).path(idField()).asText();
                    if (id.equals(torn)) tornLine = line;
                    else if (id.equals(corrupt)) lines.add(line.substring(0, line.length() - 30) + "#abîmée");
                    else if (id.equals(unnamed)) lines.add("{\"abîmée\":" + line.substring(line.length() / 2));
                    else lines.add(line);
                }
                Files.writeString(file(), String.join("\n", lines) + "\n" + tornLine.substring(0, tornLine.length() / 2));
                // Le quota tombe juste après la page 1 : les identifiants à redemander doivent survivre à l'arrêt.
                fake.quota(1);
                Run stopped = run();
                assertEquals(5, stopped.code(), stopped.all());
                assertTrue(stopped.out().contains("Dernière ligne incomplète") && stopped.out().contains("redemandée(s) une à une"), stopped.out());
                assertTrue(stopped.out().contains("1 sans identifiant lisible") && stopped.out().contains("--full-refresh"), stopped.out());
                assertEquals(2, state().path("recover").size(), state().toString());
                fake.quota(-1);
                int details = fake.detailRequests;
                Run r = run();
                assertEquals(0, r.code(), r.all());
                assertTrue(r.out().contains("Lignes réparées : 2 conversation(s) redemandée(s), 2 réécrite(s)."), r.out());
                assertEquals(2, fake.detailRequests - details, kind + " : une requête par conversation retirée");
                assertEquals(0, state().path("recover").size());
                Set<String> got = new HashSet<>(assertValidFile());
                assertTrue(got.contains(corrupt) && got.contains(torn), kind.toString());
                assertEquals(fake.conversation(torn), lineOf(torn));
                assertFalse(got.contains(unnamed), "sans identifiant lisible : seul --full-refresh la ramène");
            }
        }

        @Test
        void killedBetweenTheRepairAndTheFetchTheTornConversationStillComesBack() throws Exception {
            fake = FakeServer.crisp(60);
            exportAll();
            String torn = fake.ids().get(40);
            List<String> lines = new ArrayList<>(Files.readAllLines(file()));
            String tornLine = lines.stream().filter(l -> l.contains(torn)).findFirst().orElseThrow();
            lines.remove(tornLine);
            Files.writeString(file(), String.join("\n", lines) + "\n" + tornLine.substring(0, tornLine.length() / 2));
            fake.inject(new FakeServer.Pass(), new FakeServer.Hang(60_000));    // la page 1 répond, la conversation redemandée non
            int start = fake.requests;
            Process p = child(fake.env(), "--timeout", "120").start();
            Thread drain = Reliability.drain(p);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (fake.requests < start + 2 && System.nanoTime() < deadline) Thread.sleep(5);
            assertTrue(p.isAlive(), "l'export devait attendre la conversation redemandée");
            assertTrue(fake.log.get(fake.log.size() - 1).contains("/conversation/"), fake.log.toString());
            p.destroyForcibly().waitFor();
            drain.join();
            assertEquals(59, Files.readAllLines(file()).size(), "la ligne déchirée est déjà retirée");
            assertEquals(torn, state().path("recover").get(0).asText(), "mais son identifiant est dans l'état");
            Run r = run();
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("1 réécrite(s)"), r.out());
            assertEquals(fake.conversation(torn), lineOf(torn));
            assertComplete();
        }

        @Test
        void aServerClockAheadOfTheClientsDoesNotMakeIdleRunsWalkTheHistory() throws Exception {
            fake = FakeServer.crisp(0).clockAt(System.currentTimeMillis() - 10 * 60_000);   // l'heure du serveur, juste, et des dates récentes
            fake.add(90, true);
            String behind = "" + -30 * 60_000;                             // le client retarde de 30 min sur le serveur
            exportAll("--clock-offset-ms", behind);
            assertTrue(state().path("watermark").asLong() > System.currentTimeMillis() - 3_600_000L, state().toString());
            for (int i = 0; i < 2; i++) {
                int before = fake.requests;
                Run idle = run("--clock-offset-ms", behind);
                assertEquals(0, idle.code(), idle.all());
                assertEquals(1, fake.requests - before, "une exécution sans nouveauté : la page 1 seule");
            }
            fake.add(3, true);
            Run r = run("--clock-offset-ms", behind);
            assertTrue(r.out().contains("Terminé : 3 conversation(s) exportée(s)"), r.out());
            assertComplete();
        }

        @Test
        void everyConversationReadThisRunAndAlreadyInTheFileIsCountedOnce() throws Exception {
            fake = FakeServer.crisp(100);
            assertEquals(0, run("--nb", "40").code());
            Run resumed = run("--nb", "20");
            // La page 1 (lue pour voir les nouveautés) et la page 2, relue à la reprise : 40 déjà présentes, comptées une fois chacune.
            assertTrue(resumed.out().contains("Terminé : 20 conversation(s) exportée(s), 40 ignorée(s) (40 déjà présente(s)"), resumed.out());
            exportAll();
            Run idle = run();
            assertTrue(idle.out().contains("Terminé : 0 conversation(s) exportée(s), 20 ignorée(s) (20 déjà présente(s)"), idle.out());
            fake.add(5, true);
            Run full = run("--full-refresh");
            assertEquals(0, full.code(), full.all());
            assertTrue(full.out().contains("Terminé : 5 conversation(s) exportée(s), 100 ignorée(s) (100 déjà présente(s)"), full.out());
        }

        @Test
        void everyMissingVariableIsNamedAtOnceAndAnotherSiteNamesTheVariable() throws Exception {
            fake = FakeServer.crisp(10);
            Run none = runWith(Map.of());
            assertEquals(3, none.code(), none.all());
            for (String name : List.of("CRISP_IDENTIFIER_PROD", "CRISP_KEY_PROD", "ID_SITE_CRISP")) assertTrue(none.err().contains(name), none.err());
            Map<String, String> mixed = new HashMap<>(fake.env());
            mixed.remove("CRISP_KEY_PROD");
            mixed.put("ID_SITE_CRISP", "site\nsuite");
            Run both = runWith(mixed);
            assertTrue(both.err().contains("CRISP_KEY_PROD") && both.err().contains("ID_SITE_CRISP") && both.err().contains("caractère de contrôle"), both.err());
            assertEquals(0, fake.requests);
            assertEquals(0, run().code());
            Map<String, String> other = new HashMap<>(fake.env());
            other.put("ID_SITE_CRISP", "00000000-0000-0000-0000-000000000000");
            Run r = runWith(other);
            assertEquals(3, r.code(), r.all());
            assertTrue(r.err().contains("ID_SITE_CRISP") && r.err().contains("--output") && r.err().contains(FakeServer.WEBSITE)
                    && r.err().contains("00000000-0000-0000-0000-000000000000"), r.err());
        }

        @Test
        void aListThatIgnoresTheOrderIsWalkedToTheEndEvenWhenPage1LooksQuiet() throws Exception {
            fake = FakeServer.crisp(100);
            exportAll();
            fake.breakOrder(true);                                          // l'ordre de la boîte : page 1 hors d'ordre de mise à jour
            String missed = fake.ids().get(80);
            fake.setUpdatedAt(missed, 1_000L);                              // tout en bas, sans rien au-dessus du filigrane
            List<String> lines = new ArrayList<>(Files.readAllLines(file()));
            lines.removeIf(l -> l.contains(missed));
            Files.write(file(), lines);
            Run r = run();
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("pas dans l'ordre demandé"), r.out());
            assertComplete();
        }
    }

    // ------------------------------------------------------------------ pièces isolées

    @Nested
    @DisplayName("Pièces isolées")
    class Pieces {
        static final long NOW = 1_800_000_000_000L;

        /** Une page de la liste faite à la main : des (identifiant, clé de parcours). */
        static conv.Page page(long offset, boolean last, Object... idsAndKeys) {
            List<conv.Listed> items = new ArrayList<>();
            for (int i = 0; i < idsAndKeys.length; i += 2)
                items.add(new conv.Listed(null, new byte[0], new conv.Entry((String) idsAndKeys[i], 0, (Long) idsAndKeys[i + 1])));
            return new conv.Page(items, offset, offset + 20, offset / 20 + 1, last, -1, null);
        }

        static conv.State state(Long watermark, conv.Walk... walks) {
            return new conv.State(3, "crisp", "site", watermark, watermark, List.of(walks), List.of(), null);
        }

        @Test
        void walkPlanStartsWithTheWholeHistoryThenOnlyAHeadWalkWhenSomethingIsNew() {
            conv.WalkPlan first = new conv.WalkPlan(state(null), NOW);
            first.begin(page(0, false, "a", 5000_000L, "b", 4000_000L), false, false);
            assertEquals(List.of(new conv.Walk(null, 0, false)), first.state("crisp", "site").walks());
            assertEquals(5000_000L, first.state("crisp", "site").watermark());

            conv.WalkPlan quiet = new conv.WalkPlan(state(5000_000L), NOW);
            quiet.begin(page(0, false, "a", 5000_000L, "b", 4000_000L), false, false);
            assertTrue(quiet.complete(), "rien au-dessus du filigrane : aucun parcours");

            conv.WalkPlan fresh = new conv.WalkPlan(state(5000_000L, new conv.Walk(null, 740, false)), NOW);
            fresh.begin(page(0, false, "c", 9000_000L, "a", 5000_000L), false, false);
            assertEquals(List.of(new conv.Walk(5000_000L - conv.WalkPlan.MARGIN_MS, 0, false), new conv.Walk(null, 740, false)),
                    fresh.state("crisp", "site").walks(), "le parcours de tête passe avant l'historique en cours");
            assertEquals(9000_000L, fresh.state("crisp", "site").watermark());

            conv.WalkPlan merged = new conv.WalkPlan(state(5000_000L, new conv.Walk(1000_000L, 0, false)), NOW);
            merged.begin(page(0, false, "c", 9000_000L), false, false);
            assertEquals(List.of(new conv.Walk(1000_000L, 0, false)), merged.state("crisp", "site").walks(),
                    "un parcours déjà en tête et plus profond suffit");
        }

        @Test
        void walkPlanKeepsAFutureDateOutOfTheWatermark() {
            conv.WalkPlan plan = new conv.WalkPlan(state(5000_000L), NOW);
            plan.begin(page(0, false, "future", 4_102_444_800_000L, "c", 9000_000L, "a", 5000_000L), false, false);
            assertEquals(9000_000L, plan.state("crisp", "site").watermark(), "2100 n'emporte pas le filigrane");
            conv.WalkPlan healed = new conv.WalkPlan(state(Long.MAX_VALUE), NOW);
            healed.begin(page(0, false), false, false);
            assertEquals(NOW + conv.WalkPlan.MARGIN_MS, healed.state("crisp", "site").watermark(), "un filigrane dans le futur est borné");
            conv.WalkPlan again = new conv.WalkPlan(state(9000_000L), NOW);
            again.begin(page(0, false, "future", 4_102_444_800_000L, "c", 9000_000L), false, false);
            assertEquals(1, again.state("crisp", "site").walks().size(), "la date future en tête déclenche un parcours de tête, peu coûteux");
        }

        @Test
        void walkPlanJudgesDatesOnTheServersClockAndNeverSavesAWatermarkOfZero() {
            long server = NOW + 3_600_000L;                                 // le serveur a une heure d'avance sur nous
            conv.Page ahead = page(0, false, "a", server - 1000, "b", server - 2000);
            conv.Page dated = new conv.Page(ahead.items(), 0, 20, 1, false, -1, java.time.Instant.ofEpochMilli(server));
            conv.WalkPlan judged = new conv.WalkPlan(state(null), NOW);
            assertFalse(judged.begin(dated, false, false), "à l'heure du serveur, ces dates sont plausibles");
            assertEquals(server - 1000, judged.state("crisp", "site").watermark());
            conv.WalkPlan undated = new conv.WalkPlan(state(null), NOW);
            assertTrue(undated.begin(ahead, false, false), "sans en-tête Date, elles paraissent futures : il faut le dire");
            assertEquals(server - 2000, undated.state("crisp", "site").watermark(), "la plus basse de la page 1, jamais 0");
            conv.WalkPlan kept = new conv.WalkPlan(state(5000_000L), NOW);
            kept.begin(ahead, false, false);
            assertEquals(5000_000L, kept.state("crisp", "site").watermark(), "aucune date plausible : le filigrane reste");
        }

        @Test
        void walkPlanRefreshCatchesUpFromRefreshedToAndChecksAPage1ReadAlone() {
            conv.State behind = new conv.State(3, "crisp", "site", 9000_000L, 5000_000L, List.of(), List.of(), null);
            conv.WalkPlan plan = new conv.WalkPlan(behind, NOW);
            plan.begin(page(0, false, "c", 9000_000L, "a", 8000_000L), true, false);
            assertEquals(List.of(new conv.Walk(5000_000L - conv.WalkPlan.MARGIN_MS, 0, true)), plan.state("crisp", "site").walks(),
                    "rien de neuf en page 1, mais des changements vus sans --refresh depuis 5000 s");
            assertEquals(9000_000L, plan.state("crisp", "site").refreshedTo());
            conv.WalkPlan without = new conv.WalkPlan(behind, NOW);
            without.begin(page(0, false, "c", 9000_000L, "a", 8000_000L), false, false);
            assertTrue(without.complete(), "sans --refresh, rien à faire");
            assertEquals(5000_000L, without.state("crisp", "site").refreshedTo(), "et refreshedTo ne bouge pas");
            conv.WalkPlan unknown = new conv.WalkPlan(new conv.State(3, "crisp", "site", 9000_000L, null, List.of(), List.of(), null), NOW);
            unknown.begin(page(0, false, "c", 9000_000L), true, false);
            assertEquals(List.of(new conv.Walk(null, 0, true)), unknown.state("crisp", "site").walks(), "inconnu : tout l'historique, une fois");
            conv.WalkPlan disordered = new conv.WalkPlan(state(9000_000L), NOW);
            disordered.begin(page(0, false, "a", 1000_000L, "c", 9000_000L), false, false);
            assertFalse(disordered.complete(), "une page 1 hors d'ordre ne termine rien à elle seule");
        }

        @Test
        void walkPlanEndsAWalkOnlyOnAnOrderedPageBelowItsFloor() {
            conv.Totals totals = new conv.Totals();
            conv.WalkPlan plan = new conv.WalkPlan(state(5000_000L, new conv.Walk(4000_000L, 0, false)), NOW);
            conv.Page above = page(0, false, "c", 9000_000L, "b", 4500_000L);
            assertFalse(plan.afterPage(above, List.of(), false, totals), "encore au-dessus du plancher");
            assertEquals(new conv.Walk(4000_000L, 0, false), plan.current(), "gardé à cette page, relue à la reprise");
            conv.Page below = page(20, false, "b", 4500_000L, "a", 3000_000L);
            assertTrue(plan.afterPage(below, above.items(), false, totals), "en ordre, et sous le plancher (b revu n'est qu'un décalage)");

            conv.WalkPlan stopped = new conv.WalkPlan(state(5000_000L, new conv.Walk(4000_000L, 0, false)), NOW);
            assertFalse(stopped.afterPage(page(0, false, "a", 3000_000L), List.of(), true, totals), "arrêtée au milieu par --nb : pas finie");

            conv.WalkPlan unkeyed = new conv.WalkPlan(state(5000_000L, new conv.Walk(4000_000L, 0, false)), NOW);
            assertFalse(unkeyed.afterPage(page(0, false, "a", 3000_000L, "x", conv.Entry.MISSING), List.of(), false, totals),
                    "une conversation sans date : la page ne termine pas le parcours");
        }

        @Test
        void walkPlanTurnsADisorderedWalkIntoAWalkToTheEnd() {
            conv.Totals totals = new conv.Totals();
            conv.WalkPlan plan = new conv.WalkPlan(state(5000_000L, new conv.Walk(4000_000L, 0, false)), NOW);
            conv.Page first = page(0, false, "c", 9000_000L, "b", 4500_000L);
            conv.Page second = page(20, false, "d", 8000_000L, "a", 2000_000L);      // 8000 après 4500 : désordre à la couture
            assertFalse(plan.afterPage(first, List.of(), false, totals), "au-dessus du plancher");
            assertFalse(plan.afterPage(second, first.items(), false, totals), "sous le plancher, mais désordonnée : ne termine pas");
            assertEquals(new conv.Walk(null, 20, false), plan.current(), "le parcours va désormais jusqu'à la fin");
            assertTrue(plan.disorderSeen());
            assertTrue(plan.afterPage(page(40, true), second.items(), false, totals), "la fin de l'historique le termine");
            assertEquals(2, totals.pagesAfterDisorder);
            assertTrue(conv.WalkPlan.inOrder(List.of(), page(0, false, "a", 5000_000L, "b", 5000_000L + conv.WalkPlan.MARGIN_MS).items()),
                    "un écart dans la marge du cache est toléré");
        }

        @Test
        void progressEstimatesTheTimeLeft() throws Exception {
            StringWriter text = new StringWriter();
            AtomicLong now = new AtomicLong();
            conv.Progress progress = new conv.Progress(new PrintWriter(text, true), now::get, conv.Crisp.INFO.noun());
            progress.start(400);
            now.set(TimeUnit.SECONDS.toNanos(10));
            conv.Totals totals = new conv.Totals();
            totals.exported = 20;
            progress.page(1, totals, 20, -1, 21);
            assertTrue(text.toString().contains("reste environ 3 min 10 s"), text.toString());   // 380 restantes à 2 par seconde
            progress.page(2, totals, 20, 100, 22);                                               // 80 au plus chez Weba-AI
            assertTrue(text.toString().contains("reste environ 40 s"), text.toString());
            int lines = text.toString().split("\n").length;
            now.addAndGet(TimeUnit.SECONDS.toNanos(9));
            progress.during(3, totals, 20, 100, 23);
            assertEquals(lines, text.toString().split("\n").length, "pas de ligne avant 10 s");
            now.addAndGet(TimeUnit.SECONDS.toNanos(1));
            progress.during(3, totals, 20, 100, 24);
            assertEquals(lines + 1, text.toString().split("\n").length, "une ligne après 10 s sans nouvelles");
        }

        @Test
        void knownIdsTellNewSameAndNewerAndKeepTheNewestLine() throws Exception {
            conv.KnownIds ids = new conv.KnownIds(0);
            for (int i = 0; i < 100_000; i++) assertEquals(-1, ids.put(new conv.Entry("session_" + i, 0, 1000 + i), i));
            assertEquals(100_000, ids.size());
            assertEquals(conv.KnownIds.Status.SAME, ids.status(new conv.Entry("session_99999", 0, 1000 + 99_999)));
            assertEquals(conv.KnownIds.Status.NEWER, ids.status(new conv.Entry("session_99999", 0, 1000 + 100_000)));
            assertEquals(conv.KnownIds.Status.SAME, ids.status(new conv.Entry("session_99999", 0, 5)), "une version plus ancienne n'est pas plus récente");
            assertEquals(conv.KnownIds.Status.NEW, ids.status(new conv.Entry("session_100000", 0, 1)));
            assertEquals(7, ids.put(new conv.Entry("session_7", 0, 9_999_999), 100_000), "la ligne de l'ancienne version");
            assertEquals(100_001, ids.keepNewest(new conv.Entry("session_7", 0, 1), 100_001), "à la lecture, la plus ancienne est écartée");
            assertEquals(100_000, ids.keepNewest(new conv.Entry("session_7", 0, 9_999_999), 100_002), "à égalité, la dernière est gardée");
            assertEquals(100_000, ids.size());
        }

        @Test
        void lineReaderHandlesLinesLongerThanItsBuffer() throws Exception {
            String longLine = "x".repeat(3_000_000);
            byte[] data = ("a\n" + longLine + "\n\nb").getBytes(StandardCharsets.UTF_8);
            conv.LineReader reader = new conv.LineReader(new java.io.ByteArrayInputStream(data));
            List<String> got = new ArrayList<>();
            List<Long> offsets = new ArrayList<>();
            while (reader.next()) {
                got.add(new String(reader.buffer(), reader.start(), reader.length(), StandardCharsets.UTF_8));
                offsets.add(reader.offset());
            }
            assertEquals(List.of("a", longLine, "", "b"), got);
            assertEquals(List.of(0L, 2L, 3_000_003L, 3_000_004L), offsets);
        }

        @Test
        void schemaReadsLinesWithInvalidUtf8AsBefore() throws Exception {
            // Octets invalides : décodés en « � » comme avant, la ligne reste lisible (elle n'est pas mise de côté).
            byte[] invalid = "{\"session_id\":\"s\u00ff\",\"active\":{\"last\":7},\"x\":\"\u00e9\"}".getBytes(StandardCharsets.ISO_8859_1);
            assertEquals(new conv.Entry("s\uFFFD", 7, conv.Entry.MISSING), conv.Schema.CRISP.read(invalid, 0, invalid.length));
            byte[] accents = "{\"session_id\":\"séance\",\"active\":{\"last\":7}}".getBytes(StandardCharsets.UTF_8);
            assertEquals(new conv.Entry("séance", 7, conv.Entry.MISSING), conv.Schema.CRISP.read(accents, 0, accents.length));
        }

        @Test
        void schemaReadsEveryLineAcrossNameTablesWithUniqueAndRepeatedKeys() throws Exception {
            // La table de noms est neuve toutes les 64 lignes : chaque ligne, clés uniques ou répétées, reste lue en entier.
            for (int i = 0; i < 200; i++) {
                byte[] line = ("{\"meta\":{\"data\":{\"unique_" + i + "\":" + i + ",\"k\":1}},\"u_" + i + "\":[{\"x\":1}],"
                        + "\"active\":{\"last\":" + (1000 + i) + "},\"session_id\":\"s" + i + "\",\"updated_at\":" + (2000 + i) + "}").getBytes(StandardCharsets.UTF_8);
                assertEquals(new conv.Entry("s" + i, 1000 + i, 2000 + i), conv.Schema.CRISP.read(line, 0, line.length), "ligne " + i);
            }
        }

        @Test
        void schemaReadsIdAndActivityAndRejectsBrokenJson() throws Exception {
            byte[] crisp = "{\"meta\":{\"x\":[1,{\"y\":2}]},\"active\":{\"now\":true,\"last\":1700000000123},\"session_id\":\"session_a\"}".getBytes();
            assertEquals(new conv.Entry("session_a", 1700000000123L, conv.Entry.MISSING), conv.Schema.CRISP.read(crisp, 0, crisp.length));
            byte[] weba = "{\"id\":42,\"last_message_at\":\"2025-01-09T14:00:00Z\"}".getBytes();
            assertEquals(new conv.Entry("42", 1736431200000L, 1736431200000L), conv.Schema.WEBA.read(weba, 0, weba.length));
            byte[] broken = "{\"session_id\":\"a\"} trailing".getBytes();
            assertEquals(null, conv.Schema.CRISP.read(broken, 0, broken.length));
            byte[] noId = "{\"active\":null}".getBytes();
            assertEquals(conv.Entry.NONE, conv.Schema.CRISP.read(noId, 0, noId.length));
        }
    }

    // ------------------------------------------------------------------ contrat : README, aide, données de l'API

    @Nested
    @DisplayName("Contrat : codes de sortie documentés, conversations gardées telles que l'API les sert")
    class Contract {
        /** Le tableau « Codes de sortie » du README, dans son ordre : code → signification (marques de code Markdown ôtées). */
        List<Map.Entry<String, String>> readmeExitCodes() throws IOException {
            String readme = Files.readString(repoFile("README.md"));
            int start = readme.indexOf("\n## Codes de sortie\n");
            assertTrue(start >= 0, "le README n'a pas de section « Codes de sortie »");
            int end = readme.indexOf("\n## ", start + 1);
            java.util.regex.Matcher row = java.util.regex.Pattern.compile("(?m)^\\|\\s*(\\d+)\\s*\\|\\s*(.*?)\\s*\\|\\s*$")
                    .matcher(readme.substring(start, end < 0 ? readme.length() : end));
            List<Map.Entry<String, String>> table = new ArrayList<>();
            while (row.find()) table.add(Map.entry(row.group(1), row.group(2).replace("`", "")));
            return table;
        }

        @Test
        void readmeExitCodesAreExactlyThoseOfConv() throws Exception {
            assertEquals(List.copyOf(conv.Exit.table().entrySet()), readmeExitCodes());
        }

        @Test
        void helpPrintsEveryExitCodeWithItsMeaning() {
            for (List<String> command : List.of(List.of("--help"), List.of("messages", "--help"))) {
                Run help = bare(Map.of(), command.toArray(String[]::new));
                assertEquals(0, help.code(), help.all());
                // L'aide coupe les lignes longues : on compare mot à mot.
                String text = help.out().replaceAll("\\s+", " ");
                conv.Exit.table().forEach((code, meaning) ->
                        assertTrue(text.contains(" " + code + " " + meaning), command + " : code " + code + " absent ou différent :\n" + help.out()));
            }
        }

        /** Chaque ligne du fichier est, arbre JSON pour arbre JSON, ce que l'API a servi pour cet identifiant ; et rien d'autre. */
        void assertLinesAreWhatWasServed(Map<String, JsonNode> served) throws IOException {
            Map<String, JsonNode> exported = new java.util.LinkedHashMap<>();
            for (JsonNode line : lines()) assertEquals(null, exported.put(line.path(idField()).asText(), line), "doublon");
            assertEquals(served.keySet(), exported.keySet());
            served.forEach((id, node) -> assertEquals(node, exported.get(id), "la ligne " + id + " n'est pas ce que l'API a servi"));
        }

        @Test
        void crispLinesAreExactlyWhatTheListServed() throws Exception {
            fake = FakeServer.crisp(45).withGaps();
            exportAll();
            Map<String, JsonNode> served = fake.snapshot();
            // Comparer des objets riches : tous les champs de l'API, imbriqués, décimaux compris.
            for (String field : List.of("session_id", "website_id", "inbox_id", "people_id", "state", "status", "active", "last_message",
                    "preview_message", "compose", "unread", "assigned", "meta", "created_at", "updated_at"))
                assertTrue(served.values().stream().anyMatch(n -> n.has(field)), "le faux serveur ne sert plus le champ " + field);
            assertTrue(served.values().stream().anyMatch(n -> n.at("/meta/data/score").isDouble()
                    && n.at("/meta/device/geolocation/coordinates/latitude").isDouble()), "le faux serveur ne sert plus de décimaux imbriqués");
            assertLinesAreWhatWasServed(served);
        }

        @Test
        void webaLinesAreExactlyWhatTheDetailRouteServed() throws Exception {
            fake = FakeServer.weba(30);
            exportAll();
            Map<String, JsonNode> served = new java.util.LinkedHashMap<>();
            var http = java.net.http.HttpClient.newHttpClient();
            for (var known : fake.snapshot().entrySet()) {
                String user = java.net.URLEncoder.encode(known.getValue().path("user_id").asText(), StandardCharsets.UTF_8);
                var detail = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(fake.url() + "/conversations?bot_hash="
                                + FakeServer.BOT + "&user_id=" + user)).header("X-Auth-Token", FakeServer.TOKEN).build(),
                        java.net.http.HttpResponse.BodyHandlers.ofString());
                assertEquals(200, detail.statusCode(), detail.body());
                served.put(known.getKey(), JSON.readTree(detail.body()).path("conversation"));
            }
            assertTrue(served.values().stream().anyMatch(n -> n.path("dialog").size() > 1), "le faux serveur ne sert plus de dialogue complet");
            assertLinesAreWhatWasServed(served);
        }

        /** Le faux serveur dans un JVM à part : sa sortie, et son code s'il s'est arrêté seul dans la minute (sinon -1, arrêté). */
        Run fakeServerMain(String... args) throws Exception {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            List<String> command = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"), "FakeServer"));
            command.addAll(List.of(args));
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
            // La JVM annoncerait JAVA_TOOL_OPTIONS sur la sortie, avant l'aide (comme pour bareChild).
            pb.environment().remove("JAVA_TOOL_OPTIONS");
            Process p = pb.start();
            boolean ended = p.waitFor(60, TimeUnit.SECONDS);
            if (!ended) p.destroyForcibly().waitFor();
            return new Run(ended ? p.exitValue() : -1, new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8), "");
        }

        @Test
        void theFakeServerAnswersHelpInsteadOfStartingAndRefusesWrongArguments() throws Exception {
            for (String help : List.of("--help", "-h")) {
                Run r = fakeServerMain("crisp", help);
                assertEquals(0, r.code(), r.out());
                assertTrue(r.out().startsWith("Usage : ./jbang fake/FakeServer.java") && r.out().contains("selftest"), r.out());
                assertFalse(r.out().contains("Faux serveur crisp"), "il a démarré : " + r.out());
            }
            for (String[] wrong : List.of(new String[] {"--port", "80"}, new String[] {"zendesk"}, new String[] {"crisp", "beaucoup"},
                    new String[] {"weba", "10", "20"}, new String[] {"crisp", "0"})) {
                Run r = fakeServerMain(wrong);
                assertEquals(2, r.code(), String.join(" ", wrong) + " → " + r.out());
                assertTrue(r.out().contains("Voir « ./jbang fake/FakeServer.java --help ».") && r.out().strip().lines().count() == 1, r.out());
                assertFalse(r.out().contains("Exception"), r.out());
            }
        }
    }

    // ------------------------------------------------------------------ amont et utilisateur hostiles (issue 9, et Weba-AI de l'issue 8)

    @Nested
    class Hostile {

        FakeServer.Fault[] passes(int n) { return Collections.nCopies(n, new FakeServer.Pass()).toArray(FakeServer.Fault[]::new); }

        void assertSameBytes(byte[] expected, Path path, String what) throws IOException {
            assertTrue(java.util.Arrays.equals(expected, Files.readAllBytes(path)), what + " modifié : " + path);
        }

        /** Attend que le faux serveur ait reçu plus de {@code count} requêtes (un processus à part a bien commencé). */
        void awaitRequests(int count) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (fake.requests <= count && System.nanoTime() < deadline) Thread.sleep(20);
            assertTrue(fake.requests > count, "le processus à part n'a rien demandé à l'API");
        }

        // ---- perdu pour de bon

        @Test
        void webaStopInsideAPageLetsLaterRunsExportTheUnwrittenOnes() throws Exception {
            fake = FakeServer.weba(250);
            // Quota : la page 1 et 45 fiches, puis 429 ; les 45 fiches reçues sont écrites (deux paquets de 20, et le reste à l'arrêt).
            fake.quota(1 + 45);
            Run quota = run("--nb", "1000");
            assertEquals(5, quota.code(), quota.all());
            assertEquals(45, assertValidFile().size());
            assertTrue(quota.out().contains("Arrêté avant la fin : 45 conversation(s) exportée(s)")
                    && quota.out().contains("contient désormais 45 conversation(s)"), "compté = écrit = connu : " + quota.out());
            fake.quota(-1);
            // Panne : la page 1 (les 45 connues ne coûtent rien) et 30 fiches, puis 502 à chaque essai.
            fake.inject(passes(1 + 30));
            fake.always(new FakeServer.Status(502, null));
            Run outage = run("--nb", "1000");
            assertEquals(6, outage.code(), outage.all());
            assertEquals(75, assertValidFile().size());
            assertTrue(outage.out().contains("contient désormais 75 conversation(s)"), outage.out());
            fake.always(null);
            // Jeton refusé en route : la page 1 et 25 fiches, puis 401.
            fake.inject(passes(1 + 25));
            fake.inject(new FakeServer.Status(401, null));
            Run refused = run("--nb", "1000");
            assertEquals(4, refused.code(), refused.all());
            assertEquals(100, assertValidFile().size());
            exportAll("--nb", "1000");
            assertComplete();
            // Aucune fiche reçue n'a été jetée : chacune n'a été demandée qu'une fois.
            assertEquals(250, fake.detailRequests);
        }

        @Test
        void aConversationDatedInTheFutureDoesNotFreezeTheWatermark() throws Exception {
            fake = FakeServer.crisp(60);
            List<String> ids = fake.ids();
            long year2100 = 4_102_444_800_000L;
            fake.setUpdatedAt(ids.get(10), year2100);
            fake.setPresence(ids.get(10), year2100);
            fake.rawUpdatedAt(ids.get(20), "99999999999999999999999");
            assertEquals(ids.get(20), fake.ids().get(0), "le nombre au-delà d'un long est en tête de liste");
            assertEquals(ids.get(10), fake.ids().get(1), "2100 juste après");
            exportAll("--nb", "1000");
            assertComplete();
            assertTrue(state().path("watermark").asLong() < System.currentTimeMillis() + 3_600_000L, "filigrane dans le futur : " + state());
            for (int added : List.of(45, 30, 1)) {
                fake.add(added, true);          // sur plusieurs pages (sauf la dernière fois), sous les deux dates du futur
                int before = fake.requests;
                Run r = run("--nb", "1000");
                assertEquals(0, r.code(), r.all());
                assertTrue(r.out().contains("Terminé : " + added + " conversation(s) exportée(s)"), r.out());
                // Le filigrane suit la plus récente des dates plausibles (les deux du futur sont en tête, juste au-dessus).
                assertEquals(fake.conversation(fake.ids().get(2)).path("updated_at").asLong(), state().path("watermark").asLong());
                assertTrue(fake.requests - before < fake.size() / 20 + 1, "pas tout l'historique : " + (fake.requests - before));
                assertComplete();
            }
        }

        @Test
        void linesDroppedByRepairAreBroughtBackByTheFullRefreshTheMessageNames() throws Exception {
            fake = FakeServer.crisp(50);
            exportAll();
            assertEquals(0, state().path("walks").size(), "historique complet : plus aucun parcours ne repassera");
            List<String> lines = new ArrayList<>(Files.readAllLines(file()));
            // Deux lignes dont l'identifiant ne se lit plus, hors de la page 1 (qui les réexporterait d'elle-même).
            String middleId = fake.ids().get(30), lastId = fake.ids().get(40);
            String last = lines.stream().filter(l -> l.contains(lastId)).findFirst().orElseThrow();
            lines.remove(last);
            int middle = 0;
            while (!lines.get(middle).contains(middleId)) middle++;
            lines.set(middle, lines.get(middle).substring(0, 30) + "#abîmée à la main");
            Files.writeString(file(), String.join("\n", lines) + "\n" + last.substring(0, 30));
            Run repair = run();
            assertEquals(0, repair.code(), repair.all());
            assertTrue(repair.out().contains("Dernière ligne incomplète") && repair.out().contains(".rejected"), repair.out());
            assertTrue(repair.out().contains("--full-refresh"), "la phrase doit dire ce qui les ramène : " + repair.out());
            assertFalse(repair.out().contains("exportée à nouveau"), "promesse fausse : " + repair.out());
            Set<String> got = new HashSet<>(assertValidFile());
            assertFalse(got.contains(middleId) || got.contains(lastId), repair.out());
            Run plain = run();
            assertEquals(48, assertValidFile().size(), "une exécution ordinaire ne les ramène pas : " + plain.out());
            Run full = run("--full-refresh");
            assertEquals(0, full.code(), full.all());
            assertTrue(full.out().contains("Terminé : 2 conversation(s) exportée(s)"), full.out());
            assertComplete();
        }

        @Test
        void stateWithAnImpossibleWalkIsRefusedAndNothingIsTouched() throws Exception {
            fake = FakeServer.crisp(60);
            assertEquals(0, run("--nb", "30").code());
            Path statePath = sibling(".state.json");
            com.fasterxml.jackson.databind.node.ObjectNode good = (com.fasterxml.jackson.databind.node.ObjectNode) state();
            assertEquals(1, good.path("walks").size());
            byte[] fileBefore = Files.readAllBytes(file()), indexBefore = Files.readAllBytes(sibling(".index"));
            List<String> walks = List.of("[{\"floor\":null,\"offset\":-20}]", "[{\"floor\":null,\"offset\":null}]", "[{\"floor\":null}]",
                    "[{\"floor\":null,\"offset\":99999999999999}]", "[{\"floor\":null,\"offset\":99999999999999999999999}]",
                    "[{\"floor\":null,\"offset\":\"20\"}]", "[{\"floor\":null,\"offset\":2.5}]", "[{\"floor\":\"hier\",\"offset\":20}]",
                    "[{\"floor\":null,\"offset\":20,\"refresh\":\"oui\"}]", "[42]", "\"tout\"", "null", "{}");
            List<byte[]> states = new ArrayList<>();
            for (String w : walks) states.add(JSON.writeValueAsBytes(good.deepCopy().set("walks", JSON.readTree(w))));
            states.add(JSON.writeValueAsBytes(good.deepCopy().put("watermark", "demain")));
            // Le format d'avant comptait en numéros de page : zéro et négatif sont impossibles.
            for (String page : List.of("0", "-1", "null"))
                states.add(("{\"format\":1,\"source\":\"crisp\",\"account\":\"" + FakeServer.WEBSITE + "\",\"walks\":[{\"page\":" + page + "}]}")
                        .getBytes(StandardCharsets.UTF_8));
            for (byte[] bad : states) {
                String what = new String(bad, StandardCharsets.UTF_8);
                Files.write(statePath, bad);
                int before = fake.requests;
                Run r = run("--nb", "1000");
                assertEquals(3, r.code(), what + " → " + r.all());
                assertTrue(r.err().contains("Le fichier d'état") && r.err().contains("invalide"), r.err());
                assertFalse(r.out().contains("Tout l'historique"), r.out());
                assertEquals(before, fake.requests, "requête envoyée malgré " + what);
                assertSameBytes(bad, statePath, "état");
                assertSameBytes(fileBefore, file(), "fichier");
                assertSameBytes(indexBefore, sibling(".index"), "index");
                assertFalse(Files.exists(sibling(".rejected")));
            }
        }

        // ---- doublé

        @Test
        void aSymbolicLinkSharesTheLockAndStaysALink() throws Exception {
            fake = FakeServer.crisp(40);
            Path elsewhere = Files.createDirectories(dir.resolve("ailleurs"));
            Path target = Path.of("../conversations.jsonl");
            Path link = Files.createSymbolicLink(elsewhere.resolve("lien.jsonl"), target);
            for (boolean firstOnLink : List.of(false, true)) {
                int before = fake.requests;
                fake.inject(new FakeServer.Hang(20_000));
                Process first = bareChild(fake.env(), "--base-url", fake.url(), "--retry-base-ms", "1", "--timeout", "30",
                        "--output", (firstOnLink ? link : file()).toString()).start();
                try {
                    awaitRequests(before);
                    assertTrue(first.isAlive(), "la première exécution doit tourner encore");
                    Run second = runWith(fake.env(), "--output", (firstOnLink ? file() : link).toString());
                    assertEquals(8, second.code(), second.all());
                    assertTrue(second.err().contains("Une autre exécution"), second.err());
                    assertEquals(before + 1, fake.requests, "la seconde exécution n'a rien demandé à l'API");
                } finally {
                    first.destroyForcibly().waitFor();
                }
            }
            // Des ajouts par le lien puis par le vrai chemin : une réécriture triée à chaque fois.
            assertEquals(0, runWith(fake.env(), "--output", link.toString(), "--nb", "15").code());
            assertEquals(0, run("--nb", "15").code());
            fake.add(5, true);
            Run last = runWith(fake.env(), "--output", link.toString(), "--nb", "1000");
            assertEquals(0, last.code(), last.all());
            assertTrue(Files.isSymbolicLink(link), "le lien a été remplacé par un fichier");
            assertEquals(target, Files.readSymbolicLink(link));
            assertFalse(Files.isSymbolicLink(file()));
            assertComplete();
            try (var names = Files.list(elsewhere)) {
                assertEquals(List.of("lien.jsonl"), names.map(p -> p.getFileName().toString()).toList(), "verrou ou état à côté du lien");
            }
        }

        @Test
        void handMergedDuplicatesKeepTheNewerVersionAndSetTheOlderAside() throws Exception {
            fake = FakeServer.crisp(30);
            exportAll();
            List<String> lines = new ArrayList<>(Files.readAllLines(file()));
            String olderX = lines.get(5), olderY = lines.get(20);
            String newerX = newer(olderX), newerY = newer(olderY);
            lines.add(newerX);        // X : l'ancienne d'abord, la récente plus bas
            lines.add(0, newerY);     // Y : la récente d'abord
            Files.write(file(), lines);
            Run r = run();
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("2 ancienne(s) version(s) en double") && r.out().contains(".rejected"), r.out());
            assertEquals(30, assertValidFile().size());
            List<String> kept = Files.readAllLines(file());
            assertTrue(kept.contains(newerX) && kept.contains(newerY), "la version la plus récente doit rester");
            assertEquals(Set.of(olderX, olderY), new HashSet<>(Files.readAllLines(sibling(".rejected"))));
        }

        /** La même conversation, mise à jour une minute plus tard (updated_at) et retouchée. */
        String newer(String line) throws IOException {
            com.fasterxml.jackson.databind.node.ObjectNode node = (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(line);
            node.put("updated_at", node.path("updated_at").asLong() + 60_000).put("fusion", "version récente");
            return JSON.writeValueAsString(node);
        }

        // ---- fuite

        @Test
        void aRedirectToAnotherOriginNeverReceivesCredentials() throws Exception {
            for (FakeServer.Kind kind : FakeServer.Kind.values()) {
                if (fake != null) fake.close();
                fake = kind == FakeServer.Kind.CRISP ? FakeServer.crisp(10) : FakeServer.weba(10);
                try (FakeServer.Recorder other = FakeServer.recorder()) {
                    fake.redirectTo(other.url());
                    Run r = run();
                    assertEquals(6, r.code(), r.all());
                    assertTrue(r.err().contains("redirection") && r.err().contains("identifiants") && r.err().contains("--base-url"), r.err());
                    assertEquals(1, fake.redirected, "la redirection a bien été servie");
                    assertEquals(1, fake.requests, "une redirection n'est pas réessayée");
                    assertEquals(0, other.requests(), "conv ne suit pas la redirection");
                    assertFalse(other.sawCredentials());
                }
            }
        }

        @Test
        void credentialsWithALineBreakAreRefusedWithoutBeingPrinted() throws Exception {
            fake = FakeServer.crisp(5);
            for (String name : List.of("CRISP_IDENTIFIER_PROD", "CRISP_KEY_PROD", "ID_SITE_CRISP"))
                for (String value : List.of("secret-9f1\r\nX-Autre: 1", "secret-9f1\nsuite", "secret-9f1\rsuite")) {
                    Map<String, String> env = new HashMap<>(fake.env());
                    env.put(name, value);
                    Run r = runWith(env);
                    assertEquals(3, r.code(), name + " → " + r.all());
                    assertTrue(r.err().contains(name) && r.err().contains("caractère de contrôle"), r.err());
                    assertFalse(r.all().contains("secret-9f1") || r.all().contains("suite") || r.all().contains("X-Autre"), r.all());
                }
            assertEquals(0, fake.requests);
            Map<String, String> copied = new HashMap<>(fake.env());
            copied.put("CRISP_KEY_PROD", FakeServer.KEY + "\n");     // un retour à la ligne final, copié avec la valeur : sans gravité
            assertEquals(0, runWith(copied).code());
            fake.close();
            fake = FakeServer.weba(5);
            for (String name : List.of("WEBA_AUTH_TOKEN", "WEBA_BOT_HASH")) {
                Map<String, String> env = new HashMap<>(fake.env());
                env.put(name, "tok-secret-9f1\r\nX-Autre: 1");
                Run r = runWith(env);
                assertEquals(3, r.code(), r.all());
                assertTrue(r.err().contains(name), r.err());
                assertFalse(r.all().contains("tok-secret") || r.all().contains("X-Autre"), r.all());
            }
            assertEquals(0, fake.requests);
        }

        // ---- quota et temps perdus

        @Test
        void theSamePageForEveryPageNumberStopsQuicklyAndKeepsTheWalk() throws Exception {
            fake = FakeServer.crisp(100);
            fake.samePageForEveryPage(true);
            // --max-requests : sans la détection, l'export tournerait jusqu'au bout du quota.
            Run r = run("--nb", "1000", "--max-requests", "50");
            assertEquals(6, r.code(), r.all());
            assertTrue(r.err().contains("même page"), r.err());
            assertEquals(2, fake.requests, "la page 2 identique à la page 1 arrête tout");
            assertEquals(20, assertValidFile().size());
            JsonNode walks = state().path("walks");
            assertEquals(1, walks.size(), state().toString());
            assertEquals(0, walks.get(0).path("offset").asLong(), "la reprise relit la dernière page sûre");
            assertTrue(walks.get(0).path("floor").isNull(), "le parcours complet est gardé : " + state());
            fake.samePageForEveryPage(false);
            exportAll("--nb", "1000");
            assertComplete();
            fake.close();
            for (String suffix : List.of("", ".state.json", ".index")) Files.deleteIfExists(sibling(suffix));
            fake = FakeServer.weba(150);
            fake.samePageForEveryPage(true);
            Run weba = run("--nb", "1000", "--max-requests", "400");
            assertEquals(6, weba.code(), weba.all());
            assertTrue(weba.err().contains("même page"), weba.err());
            assertEquals(2, fake.listRequests);
        }

        @Test
        void aDrippingBodyIsCutAtTheTimeout() throws Exception {
            fake = FakeServer.crisp(20);
            fake.drip(40);     // une page de 20 conversations (environ 40 Ko) en un quart d'heure
            Run r = run("--timeout", "1");
            assertEquals(6, r.code(), r.all());
            assertTrue(r.err().contains("délai"), r.err());
            assertEquals(7, fake.requests, "un essai et six nouveaux essais, chacun coupé à l'échéance");
            assertTrue(r.err().contains("après 7 essais"), r.err());
            assertFalse(Files.exists(file()));
            assertTrue(fake.awaitHangUps(7), "chaque échange coupé est fermé : le serveur a vu " + fake.hungUp + " clients raccrocher");
        }

        @Test
        void jsonBeyondTheReadingLimitsIsNotRetried() throws Exception {
            fake = FakeServer.crisp(30);
            fake.deepNesting(5000);
            Run deep = run();
            assertEquals(6, deep.code(), deep.all());
            assertNotNull(fake.hostileId(), "la page servie portait l'imbrication");
            assertEquals(1, fake.requests, "pas de nouvel essai");
            assertTrue(deep.err().contains("imbrication") && deep.err().contains("signalez-le"), deep.err());
            assertFalse(deep.err().contains("pas du JSON"), deep.err());
            fake.deepNesting(fake.hostileId(), 0);
            fake.hugeString(conv.MAX_BODY + 1000);
            Run huge = run();
            assertEquals(6, huge.code(), huge.all());
            assertEquals(2, fake.requests, "pas de nouvel essai");
            assertTrue(huge.err().contains((conv.MAX_BODY >> 20) + " Mo") && huge.err().contains("signalez-le"), huge.err());
            fake.hugeString(fake.hostileId(), 0);
            exportAll();
            assertComplete();
        }

        @Test
        void readOnlyExportFileAndOverlongNameAreRefusedBeforeAnyRequest() throws Exception {
            fake = FakeServer.crisp(30);
            assertEquals(0, run("--nb", "10").code());
            byte[] before = Files.readAllBytes(file()), stateBefore = Files.readAllBytes(sibling(".state.json"));
            int requests = fake.requests;
            boolean root = "root".equals(System.getProperty("user.name"));
            // root écrit partout : seul un fichier immuable lui est interdit.
            if (root) Assumptions.assumeTrue(Reliability.exec("chattr", "+i", file().toString()) == 0, "chattr indisponible");
            else Files.setPosixFilePermissions(file(), PosixFilePermissions.fromString("r--------"));
            try {
                assertFalse(Files.isWritable(file()));
                Run r = run("--nb", "10");
                assertEquals(7, r.code(), r.all());
                assertTrue(r.err().contains("Impossible d'écrire dans " + file()), r.err());
                assertEquals(requests, fake.requests, "aucune requête avant de savoir qu'on ne pourra pas écrire");
            } finally {
                if (root) Reliability.exec("chattr", "-i", file().toString());
                else Files.setPosixFilePermissions(file(), PosixFilePermissions.fromString("rw-------"));
            }
            assertSameBytes(before, file(), "fichier");
            assertSameBytes(stateBefore, sibling(".state.json"), "état");
            Path longName = dir.resolve("n".repeat(245) + ".jsonl");
            Run r = runWith(fake.env(), "--output", longName.toString());
            assertEquals(7, r.code(), r.all());
            assertTrue(r.err().contains("trop long") && r.err().contains("--output"), r.err());
            assertEquals(requests, fake.requests);
            try (var names = Files.list(dir)) {
                assertTrue(names.noneMatch(p -> p.getFileName().toString().startsWith("nnn")), "un fichier a été créé");
            }
        }

        // ---- dit faux

        @Test
        void aFirstRunFailingOnPageOneNeverSaysItIsFinished() throws Exception {
            fake = FakeServer.crisp(30);
            fake.always(new FakeServer.Status(502, null));
            Run outage = run();
            fake.always(null);
            fake.quota(0);
            Run quota = run();
            assertEquals(6, outage.code(), outage.all());
            assertEquals(5, quota.code(), quota.all());
            for (Run r : List.of(outage, quota)) {
                assertFalse(r.all().contains("Terminé") || r.all().contains("Tout l'historique est exporté"), r.all());
                assertTrue(r.out().contains("Arrêté avant la fin : 0 conversation(s)"), r.out());
            }
            assertTrue(fake.requests >= 2);
        }

        @Test
        void sigtermAndCtrlCOnARunningExportSayWhatToDo() throws Exception {
            fake = FakeServer.crisp(40);
            for (String signal : List.of("TERM", "INT")) {
                // Lancée en arrière-plan sans contrôle des tâches, la suite ignore SIGINT, et ses enfants aussi : Ctrl-C n'y est pas vérifiable.
                if (signal.equals("INT")) Assumptions.assumeFalse(sigintIgnored(), "SIGINT est ignoré par ce processus (lancé en arrière-plan) : Ctrl-C non vérifiable ici");
                int before = fake.requests;
                fake.inject(new FakeServer.Hang(20_000));
                Process p = child(fake.env(), "--timeout", "30").start();
                try {
                    awaitRequests(before);
                    assertTrue(p.isAlive(), "l'export doit être en cours quand le signal arrive");
                    assertEquals(0, Reliability.exec("kill", "-" + signal, String.valueOf(p.pid())));
                    String out = output(p);
                    assertFalse(p.isAlive());
                    assertEquals(signal.equals("TERM") ? 143 : 130, p.exitValue(), out);
                    assertTrue(out.contains("Interrompu : ce qui était exporté est enregistré ; relancez la même commande"), signal + " : " + out);
                    assertClean(out);
                } finally {
                    p.destroyForcibly().waitFor();
                }
            }
            exportAll();
            assertComplete();
        }

        @Test
        void anotherAccountIsNamedAndResetIsNotSuggested() throws Exception {
            fake = FakeServer.weba(10);
            assertEquals(0, run().code());
            byte[] before = Files.readAllBytes(file());
            int requests = fake.requests;
            String otherBot = "ffffffffffffffffffffffffffffffff";
            Map<String, String> env = new HashMap<>(fake.env());
            env.put("WEBA_BOT_HASH", otherBot);
            Run r = runWith(env);
            assertEquals(3, r.code(), r.all());
            assertTrue(r.err().contains(FakeServer.BOT) && r.err().contains(otherBot), "les deux comptes nommés : " + r.err());
            assertTrue(r.err().contains("--output") && !r.all().contains("--reset"), r.err());
            assertEquals(requests, fake.requests);
            assertSameBytes(before, file(), "fichier");
        }

        @Test
        void anExportOfTheOtherSourceWithoutStateIsRefusedBeforeAnyScan() throws Exception {
            for (boolean webaFirst : List.of(true, false)) {
                for (String suffix : List.of("", ".state.json", ".index", ".lock")) Files.deleteIfExists(sibling(suffix));
                if (fake != null) fake.close();
                fake = webaFirst ? FakeServer.weba(25) : FakeServer.crisp(25);
                assertEquals(0, run().code());
                Files.delete(sibling(".state.json"));
                Files.delete(sibling(".index"));
                byte[] before = Files.readAllBytes(file());
                fake.close();
                fake = webaFirst ? FakeServer.crisp(25) : FakeServer.weba(25);
                Run r = run();
                assertEquals(3, r.code(), r.all());
                assertTrue(r.err().contains("ne ressemble pas à un export " + (webaFirst ? "crisp" : "weba")) && r.err().contains("--output"), r.err());
                assertFalse(Files.exists(sibling(".rejected")), "lignes mises de côté avant le refus");
                assertSameBytes(before, file(), "fichier");
                assertFalse(Files.exists(sibling(".state.json")));
                assertEquals(0, fake.requests);
            }
        }

        @Test
        void aFolderAsOutputIsAUsageErrorAndNoLockIsCreatedOutside() throws Exception {
            fake = FakeServer.crisp(5);
            Path sub = Files.createDirectories(dir.resolve("dossier"));
            Path cwd = Path.of("").toAbsolutePath();
            List<Path> locks = List.of(Path.of("/.lock"), cwd.resolve("..lock"), cwd.resolve(".lock"),
                    cwd.resolveSibling(cwd.getFileName() + ".lock"), dir.resolveSibling(dir.getFileName() + ".lock"), dir.resolve("dossier.lock"));
            for (Path lock : locks) assertFalse(Files.exists(lock), "déjà là : " + lock);
            for (String output : List.of("/", ".", "./", dir.toString(), sub.toString(), sub + "/")) {
                Run r = bare(fake.env(), "--base-url", fake.url(), "--output", output, "--retry-base-ms", "1");
                assertEquals(2, r.code(), output + " → " + r.all());
                assertTrue(r.err().contains("--output attend un fichier, pas un dossier") && r.err().contains("--help"), r.err());
                for (Path lock : locks) assertFalse(Files.exists(lock), output + " : verrou créé " + lock);
            }
            assertEquals(0, fake.requests);
            try (var names = Files.list(sub)) { assertEquals(0, names.count()); }
        }

        @Test
        void aNumberBeyondAnIntIsTooLarge() throws Exception {
            fake = FakeServer.crisp(5);
            for (String option : List.of("--nb", "--max-requests", "--timeout")) {
                Run r = bare(fake.env(), "--base-url", fake.url(), "--output", file().toString(), option, "2147483648");
                assertEquals(2, r.code(), r.all());
                assertTrue(r.err().contains("« 2147483648 » est trop grand (au plus 2147483647)") && r.err().contains(option), r.err());
                assertFalse(r.err().contains("n'est pas un nombre entier"), r.err());
            }
            assertEquals(0, fake.requests);
        }

        @Test
        void frenchWordingOfFileAndRetryMessages() throws Exception {
            assertTrue(conv.Io.fileFailure("écrire dans x.jsonl", new IOException("No space left on device")).getMessage()
                    .startsWith("Impossible d'écrire dans x.jsonl (disque plein)"));
            assertTrue(conv.Io.fileFailure("enregistrer l'état x", new IOException("Read-only file system")).getMessage()
                    .startsWith("Impossible d'enregistrer l'état x (système de fichiers en lecture seule)"));
            assertTrue(conv.Io.fileFailure("lire x", new IOException("Permission denied")).getMessage().startsWith("Impossible de lire x"));
            fake = FakeServer.crisp(30);
            // Un dossier non vide à la place du fichier temporaire de l'état : l'état ne peut pas être enregistré.
            Files.createDirectories(sibling(".state.json.tmp").resolve("bloque"));
            Run state = run();
            assertEquals(7, state.code(), state.all());
            assertTrue(state.err().contains("Impossible d'enregistrer l'état") && state.err().contains("c'est un dossier"), state.err());
            assertFalse(state.err().contains("de enregistrer"), state.err());
            Files.delete(sibling(".state.json.tmp").resolve("bloque"));
            Files.delete(sibling(".state.json.tmp"));
            int before = fake.requests;
            fake.always(new FakeServer.Status(429, "86400"));
            Run once = run();
            assertEquals(5, once.code(), once.all());
            assertEquals(1, fake.requests - before, "un seul essai : l'API demande d'attendre un jour");
            assertTrue(once.err().contains("après 1 essai (") && !once.err().contains("1 essais"), once.err());
        }

        @Test
        void aTornFiftyMegabyteLastLineIsRepaired() throws Exception {
            fake = FakeServer.crisp(20);
            exportAll();
            byte[] before = Files.readAllBytes(file());
            byte[] head = "{\"session_id\":\"session_coupee\",\"meta\":{\"note\":\"".getBytes(StandardCharsets.UTF_8);
            byte[] block = new byte[1 << 20];
            java.util.Arrays.fill(block, (byte) 'x');
            try (var out = Files.newOutputStream(file(), java.nio.file.StandardOpenOption.APPEND)) {
                out.write(head);
                for (int i = 0; i < 50; i++) out.write(block);
            }
            long torn = head.length + 50L * block.length;
            Run r = run();
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("Dernière ligne incomplète (" + torn + " octets"), r.out());
            assertSameBytes(before, file(), "fichier réparé");
            assertComplete();
        }

        // ---- Weba-AI (issue 8)

        @Test
        void webaTiesStraddlingPageBoundariesAreNeitherSkippedNorDoubled() throws Exception {
            fake = FakeServer.weba(0).withTies(8);
            fake.add(300, false);
            List<String> ids = fake.ids();
            for (int boundary : List.of(100, 190))
                assertEquals(fake.conversation(ids.get(boundary - 1)).path("last_message_at"), fake.conversation(ids.get(boundary)).path("last_message_at"),
                        "des ex aequo de part et d'autre de la position " + boundary);
            Run first = run("--nb", "1000");
            assertEquals(0, first.code(), first.all());
            assertTrue(first.out().contains("Terminé : 300 conversation(s) exportée(s), 0 ignorée(s) (0 déjà présente(s)"), first.out());
            assertEquals(300, fake.detailRequests, "aucune fiche demandée deux fois");
            assertEquals(4, fake.listRequests);
            assertComplete();
            fake.add(150, true);      // des nouvelles, ex aequo par 8, sur deux pages
            int details = fake.detailRequests;
            Run next = run("--nb", "1000");
            assertEquals(0, next.code(), next.all());
            // Page 1 : 100 nouvelles ; page 2 (à partir de 90) : 10 revues, 50 nouvelles, 40 anciennes déjà présentes.
            assertTrue(next.out().contains("Terminé : 150 conversation(s) exportée(s), 40 ignorée(s) (40 déjà présente(s)"), next.out());
            assertEquals(150, fake.detailRequests - details);
            assertComplete();
        }

        @Test
        void webaTieGroupsLargerThanTheOverlapAreNotSkipped() throws Exception {
            fake = FakeServer.weba(0).withTies(25);
            fake.add(400, false);
            List<String> ids = fake.ids();
            // Le groupe des positions 175 à 199 (25 ex aequo) est à cheval sur la fin de la page 2 (90 à 189), bien au-delà du chevauchement de 10.
            assertEquals(fake.conversation(ids.get(175)).path("last_message_at"), fake.conversation(ids.get(199)).path("last_message_at"));
            Run r = run("--nb", "1000");
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("Terminé : 400 conversation(s) exportée(s), 0 ignorée(s) (0 déjà présente(s)"), r.out());
            assertEquals(400, fake.detailRequests, "aucune fiche demandée deux fois");
            assertComplete();
        }

        @Test
        void webaVisitorWithTwoConversationsKeepsBothAndCountsTheOneWithoutDialog() throws Exception {
            fake = FakeServer.weba(30);
            List<String> ids = fake.ids();
            String kept = fake.sameVisitor(ids.get(3), ids.get(20));
            String other = kept.equals(ids.get(3)) ? ids.get(20) : ids.get(3);
            Run r = run();
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("Terminé : 30 conversation(s) exportée(s)") && r.out().contains("1 sans dialogue"), r.out());
            assertComplete();
            Map<String, JsonNode> byId = new HashMap<>();
            for (JsonNode n : lines()) byId.put(n.path("id").asText(), n);
            assertEquals("autre_conversation", byId.get(other).path("conv_dialog_missing").asText(), byId.get(other).toString());
            assertFalse(byId.get(other).has("dialog"), "pas le dialogue de l'autre conversation");
            assertTrue(byId.get(kept).has("dialog") && !byId.get(kept).has("conv_dialog_missing"));
            Run again = run();
            assertTrue(again.out().contains("Terminé : 0 conversation(s) exportée(s)"), again.out());
            assertComplete();
        }
    }

    // ------------------------------------------------------------------ conv messages (issue 12)

    @Nested
    @DisplayName("Messages Crisp (conv messages)")
    class CrispMessages {
        Path folder() { return dir.resolve("messages"); }

        Run messages(String... args) { return messagesWith(fake.env(), args); }

        Run messagesWith(Map<String, String> env, String... args) {
            List<String> all = new ArrayList<>(List.of("messages", "--input", file().toString(), "--base-url", fake.url(), "--retry-base-ms", "1"));
            all.addAll(List.of(args));
            return bare(env, all.toArray(String[]::new));
        }

        /** Exporte la liste, puis les messages jusqu'à ce que tout soit à jour. */
        void exportEverything() throws Exception {
            exportAll("--nb", "100000");
            for (int i = 0; i < 20; i++) {
                Run r = messages("--nb", "100000");
                assertEquals(0, r.code(), r.all());
                if (r.out().contains("sont à jour")) return;
            }
            fail("les messages ne sont jamais à jour");
        }

        /** Un fichier des conversations à jour : --refresh réécrit les conversations qui ont changé. */
        void refreshConversations() {
            Run r = run("--refresh", "--nb", "100000");
            assertEquals(0, r.code(), r.all());
        }

        @Test
        void aLongJournalIsCompactedToOneLinePerConversation() throws Exception {
            fake = FakeServer.crisp(5);
            exportEverything();
            Path journal = folder().resolve("messages.jsonl.fetched");
            List<String> lines = Files.readAllLines(journal);
            assertEquals(5, lines.size());
            StringBuilder bloated = new StringBuilder();
            for (int i = 0; i < 2_100; i++) for (String line : lines) bloated.append(line.replaceFirst("\"updated_at\":\\d+", "\"updated_at\":" + i)).append('\n');
            for (String line : lines) bloated.append(line).append('\n');            // la dernière ligne de chacune fait foi
            Files.writeString(journal, bloated);
            int before = fake.messageRequests;
            Run r = messages();
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("compacté : 10505 ligne(s) → 5"), r.out());
            assertEquals(new HashSet<>(lines), new HashSet<>(Files.readAllLines(journal)));
            assertEquals(before, fake.messageRequests, "les lignes qui font foi sont à jour : rien à redemander");
        }

        /** Le fichier d'une conversation : valide, unique par empreinte, le plus récent en haut. */
        List<JsonNode> messageFile(String id) throws IOException {
            Path f = folder().resolve(id + ".jsonl");
            List<JsonNode> nodes = new ArrayList<>();
            if (!Files.exists(f)) return nodes;
            Set<String> fingerprints = new HashSet<>();
            for (String line : Files.readAllLines(f)) {
                JsonNode n = JSON.readTree(line);
                assertTrue(fingerprints.add(n.path("fingerprint").asText()), "empreinte en double dans " + f);
                if (!nodes.isEmpty()) {
                    JsonNode p = nodes.get(nodes.size() - 1);
                    long a = p.path("timestamp").asLong(), b = n.path("timestamp").asLong();
                    assertTrue(a > b || a == b && p.path("fingerprint").asLong() < n.path("fingerprint").asLong(), "ordre faux dans " + f);
                }
                nodes.add(n);
            }
            return nodes;
        }

        /** Chaque conversation a exactement les messages du serveur, champs égaux ; un fichier vide sans message. */
        void assertMessagesMatchServer() throws IOException {
            for (String id : fake.ids()) {
                Set<JsonNode> expected = new HashSet<>();
                for (JsonNode m : fake.messages(id)) expected.add(JSON.readTree(JSON.writeValueAsString(m)));
                Path f = folder().resolve(id + ".jsonl");
                if (expected.isEmpty()) {
                    assertEquals(0, Files.size(f), "fichier vide pour une conversation sans message : " + id);
                    continue;
                }
                List<JsonNode> got = messageFile(id);
                assertEquals(expected.size(), got.size(), "nombre de messages de " + id);
                assertEquals(expected, new HashSet<>(got), "messages de " + id);
            }
        }

        @Test
        void exportsEveryMessageOfEveryConversationThenNothingChangedCostsNothing() throws Exception {
            fake = FakeServer.crisp(30);
            List<String> ids = fake.ids();
            fake.messagesFor(ids.get(0), 0);
            fake.messagesFor(ids.get(1), 1);
            fake.messagesFor(ids.get(2), 75);
            exportEverything();
            assertMessagesMatchServer();
            long files = ids.size();
            Set<String> kinds = new HashSet<>();
            for (String id : ids) for (JsonNode m : messageFile(id)) kinds.add(m.path("type").asText() + (m.path("content").isObject() ? "/objet" : "/texte"));
            assertTrue(kinds.containsAll(Set.of("text/texte", "file/objet", "note/texte", "event/objet", "picker/objet")), kinds.toString());
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(folder().resolve(ids.get(2) + ".jsonl"))));
            int before = fake.messageRequests;
            Run again = messages();
            assertEquals(0, again.code(), again.all());
            assertEquals(before, fake.messageRequests, "rien n'a bougé : aucune requête de messages");
            assertTrue(again.out().contains("contient désormais " + files + " fichier(s) de messages"), again.out());
            assertTrue(again.out().contains("0 conversation(s) traitée(s), 30 ignorée(s)"), again.out());
        }

        @Test
        void pagesAcrossSeveralHundredMessagesWithExclusiveOrInclusiveTimestampBefore() throws Exception {
            for (boolean inclusive : List.of(false, true)) {
                if (fake != null) fake.close();
                fake = FakeServer.crisp(4);
                fake.inclusiveTimestampBefore(inclusive);
                List<String> ids = fake.ids();
                fake.messagesFor(ids.get(0), 437);
                fake.messagesFor(ids.get(1), 40);
                fake.messagesFor(ids.get(2), 80);
                fake.messagesFor(ids.get(3), 41);
                exportAll("--nb", "100000");
                Run r = messages();
                assertEquals(0, r.code(), r.all());
                assertMessagesMatchServer();
                assertEquals(437, messageFile(ids.get(0)).size());
                assertTrue(r.out().contains("437 message(s) exporté(s)"), r.out());
                // La milliseconde de la couture est relue : 40 puis 39 nouveaux par page ; une page pleine en 200 en demande une de plus.
                assertEquals(12 + 2 + 3 + 2, fake.messageRequests, "requêtes");
                java.nio.file.Files.walk(dir).sorted(Collections.reverseOrder()).forEach(p -> p.toFile().delete());
                Files.createDirectories(dir);
            }
        }

        @Test
        void newMessagesBetweenRunsAreFetchedWithFewRequests() throws Exception {
            fake = FakeServer.crisp(10);
            String busy = fake.ids().get(3);
            fake.messagesFor(busy, 300);
            exportEverything();
            for (int i = 0; i < 3; i++) fake.answer(busy);
            int before = fake.messageRequests;
            Run stale = messages();
            assertEquals(before, fake.messageRequests, "le fichier des conversations n'a pas bougé : rien à demander");
            refreshConversations();
            Run r = messages();
            assertEquals(0, r.code(), r.all());
            assertEquals(1, fake.messageRequests - before, "une page suffit : elle rejoint l'historique déjà complet");
            assertTrue(r.out().contains("3 message(s) exporté(s)"), r.out());
            assertTrue(r.out().contains("1 conversation(s) traitée(s)"), r.out());
            assertMessagesMatchServer();
            assertEquals(303, messageFile(busy).size());
            before = fake.messageRequests;
            assertEquals(0, messages().code());
            assertEquals(before, fake.messageRequests);
        }

        @Test
        void limitThenResumeAndResetKeepsFiles() throws Exception {
            fake = FakeServer.crisp(25);
            for (String id : fake.ids()) fake.messagesFor(id, 3);
            exportAll("--nb", "100000");
            Run first = messages("--nb", "10");
            assertEquals(0, first.code(), first.all());
            assertEquals(10, fake.messageRequests);
            assertTrue(first.out().contains("25 à interroger"), first.out());
            assertTrue(first.out().contains("Reste 15 conversation(s)"), first.out());
            assertTrue(first.out().contains("[10/10]"), first.out());
            assertEquals(10, Files.list(folder()).filter(p -> p.getFileName().toString().startsWith("session_")).count());
            Run second = messages("--nb", "10");
            assertTrue(second.out().contains("15 à interroger") && second.out().contains("10 à jour"), second.out());
            assertEquals(20, fake.messageRequests);
            assertEquals(0, messages("--nb", "10").code());
            assertEquals(25, fake.messageRequests);
            assertMessagesMatchServer();
            Map<String, String> kept = new HashMap<>();
            for (String id : fake.ids()) kept.put(id, Files.readString(folder().resolve(id + ".jsonl")));
            Run reset = messages("--reset", "--nb", "100");
            assertEquals(0, reset.code(), reset.all());
            assertTrue(reset.out().contains("fichiers de messages sont gardés"), reset.out());
            assertEquals(50, fake.messageRequests, "une page par conversation, déjà entièrement connue");
            for (String id : fake.ids()) assertEquals(kept.get(id), Files.readString(folder().resolve(id + ".jsonl")));
        }

        @Test
        void deletedConversationIsCountedAndSkipped() throws Exception {
            fake = FakeServer.crisp(6);
            exportAll("--nb", "100000");
            String gone = fake.ids().get(2);
            fake.delete(gone);
            Run r = messages();
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("1 introuvable(s) chez Crisp"), r.out());
            assertTrue(r.out().contains(gone + " : introuvable"), r.out());
            assertFalse(Files.exists(folder().resolve(gone + ".jsonl")));
            assertMessagesMatchServer();
            int before = fake.messageRequests;
            assertEquals(0, messages().code());
            assertEquals(before, fake.messageRequests, "une conversation supprimée n'est pas redemandée");
        }

        @Test
        void quotaInTheMiddleOfAConversationStopsThenTheNextRunCompletes() throws Exception {
            fake = FakeServer.crisp(5);
            List<String> ids = fake.ids();
            for (String id : ids) fake.messagesFor(id, 200);
            exportAll("--nb", "100000");
            fake.quota(7);                                   // 5 pages pour la première, 2 pour la deuxième, puis 429
            Run stopped = messages();
            assertEquals(5, stopped.code(), stopped.all());
            assertTrue(stopped.err().contains("Limite de l'API atteinte"), stopped.err());
            assertTrue(stopped.out().contains("1 conversation(s) traitée(s)"), stopped.out());
            assertEquals(1, Files.list(folder()).filter(p -> p.getFileName().toString().endsWith(".jsonl") && p.getFileName().toString().startsWith("session_")).count(),
                    "la conversation interrompue n'a pas de fichier partiel");
            fake.quota(-1);
            Run resumed = messages();
            assertEquals(0, resumed.code(), resumed.all());
            assertTrue(resumed.out().contains("4 conversation(s) traitée(s)"), resumed.out());
            assertMessagesMatchServer();
        }

        @Test
        void killedAtRandomMomentsThenResumedLosesAndDoublesNothing() throws Exception {
            fake = FakeServer.crisp(120);
            Random random = new Random(12);
            for (String id : fake.ids()) fake.messagesFor(id, 1 + random.nextInt(90));
            exportAll("--nb", "100000");
            for (int round = 0; round < 4; round++) {
                int target = fake.messageRequests + 3 + random.nextInt(40);
                Process p = bareChild(fake.env(), "messages", "--input", file().toString(), "--base-url", fake.url(), "--retry-base-ms", "1",
                        "--nb", "100000", "--requests-per-minute", "3000").start();
                Thread drain = new Thread(() -> {
                    try { p.getInputStream().transferTo(java.io.OutputStream.nullOutputStream()); } catch (IOException ignored) { }
                });
                drain.start();
                try {
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                    while (fake.messageRequests < target && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(2);
                    Thread.sleep(random.nextInt(15));
                    assertTrue(p.isAlive(), "l'export était déjà fini : le tuer ne prouverait rien");
                } finally {
                    p.destroyForcibly().waitFor();
                    drain.join();
                }
                // Ce qui est écrit est valide, trié, sans doublon, et n'est que ce que le serveur détient.
                for (String id : fake.ids()) {
                    Set<JsonNode> server = new HashSet<>();
                    for (JsonNode m : fake.messages(id)) server.add(JSON.readTree(JSON.writeValueAsString(m)));
                    List<JsonNode> got = messageFile(id);
                    assertTrue(server.containsAll(got), "message inconnu du serveur après kill -9 : " + id);
                }
                String busy = fake.ids().get(random.nextInt(fake.size()));
                fake.answer(busy);
                refreshConversations();
            }
            Run resumed = messages("--nb", "100000");
            assertEquals(0, resumed.code(), resumed.all());
            assertTrue(resumed.out().contains("sont à jour"), resumed.out());
            assertMessagesMatchServer();
            try (var left = Files.list(folder())) {
                assertFalse(left.anyMatch(p -> p.toString().endsWith(".tmp")), "reste de fichier temporaire");
            }
        }

        @Test
        void hostileSessionIdsAreRefusedAndNothingIsWrittenOutside() throws Exception {
            fake = FakeServer.crisp(3);
            String uuid = "0b0e9a54-5b7e-4c52-9f55-3a1a3c1f2a10";
            List<String> hostile = List.of("../../evil", "session_../../evil", "session_" + uuid.toUpperCase(), "session_" + uuid + "/../../evil",
                    "/tmp/evil", "session_" + uuid + ".jsonl");
            for (String raw : hostile) fake.addHostileSession(raw);
            exportAll("--nb", "100000");
            Run r = messages();
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains(hostile.size() + " refusée(s) (identifiant invalide)"), r.out());
            assertTrue(r.out().contains("3 conversation(s) traitée(s)"), r.out());
            for (String line : fake.log) assertFalse(line.contains("evil") || line.contains(uuid.toUpperCase()), line);
            try (var all = Files.list(dir.getParent())) {
                assertFalse(all.anyMatch(p -> p.getFileName().toString().contains("evil")), "fichier écrit hors du dossier");
            }
            try (var files = Files.walk(dir)) {
                for (Path p : (Iterable<Path>) files::iterator) {
                    assertFalse(p.getFileName().toString().contains("evil"), p.toString());
                    if (p.startsWith(folder()) && !p.equals(folder()))
                        assertTrue(p.getFileName().toString().matches("session_[0-9a-f-]{36}\\.jsonl|messages\\.jsonl\\.(fetched|state\\.json|lock)"), p.toString());
                }
            }
        }

        @Test
        void aServerIgnoringTimestampBeforeIsCaughtAndNothingIsWritten() throws Exception {
            fake = FakeServer.crisp(0);
            String id = "session_0b0e9a54-5b7e-4c52-9f55-3a1a3c1f2a10";
            Files.writeString(file(), "{\"session_id\":\"" + id + "\",\"updated_at\":1763800000000}\n");
            // Un serveur qui ignore timestamp_before : toujours la même page, toujours 206.
            String page = "{\"error\":false,\"reason\":\"resolved\",\"data\":[{\"fingerprint\":1,\"timestamp\":1000},{\"fingerprint\":2,\"timestamp\":2000}]}";
            int[] served = {0};
            var loop = com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
            loop.createContext("/", exchange -> {
                served[0]++;
                byte[] body = page.getBytes(StandardCharsets.UTF_8);
                exchange.sendResponseHeaders(206, body.length);
                exchange.getResponseBody().write(body);
                exchange.close();
            });
            loop.start();
            try {
                Run r = bare(fake.env(), "messages", "--input", file().toString(), "--base-url", "http://127.0.0.1:" + loop.getAddress().getPort() + "/v1",
                        "--retry-base-ms", "1");
                assertEquals(6, r.code(), r.all());
                assertTrue(r.out().contains("ne respecte pas timestamp_before") && r.out().contains(id), r.out());
                assertEquals(2, served[0], "arrêt dès la page qui ignore la borne");
                assertFalse(Files.exists(folder().resolve(id + ".jsonl")), "rien d'écrit pour cette conversation");
            } finally {
                loop.stop(0);
            }
        }

        @Test
        void accessErrorsAreExplainedWithCodeFour() throws Exception {
            fake = FakeServer.crisp(3);
            exportAll("--nb", "100000");
            Map<String, String> otherSite = new HashMap<>(fake.env());
            otherSite.put("ID_SITE_CRISP", "11111111-2222-3333-4444-555555555555");
            int before = fake.requests;
            Run site = messagesWith(otherSite);
            assertEquals(3, site.code(), site.all());
            assertTrue(site.err().contains(FakeServer.WEBSITE) && site.err().contains("11111111-2222-3333-4444-555555555555"), site.err());
            assertEquals(before, fake.requests, "refusé avant toute requête");
            assertFalse(Files.exists(folder()), "rien d'écrit");
            Map<String, String> badKey = new HashMap<>(fake.env());
            badKey.put("CRISP_KEY_PROD", "mauvaise-cle");
            Run key = messagesWith(badKey);
            assertEquals(4, key.code(), key.all());
            assertTrue(key.err().contains("Crisp refuse l'identifiant ou la clé"), key.err());
            fake.forbidden(true);
            Run forbidden = messages();
            assertEquals(4, forbidden.code(), forbidden.all());
            assertTrue(forbidden.err().contains("website:conversation:messages"), forbidden.err());
            assertFalse(Files.exists(folder().resolve(fake.ids().get(0) + ".jsonl")));
            Run missing = messagesWith(without(fake.env(), "CRISP_KEY_PROD"));
            assertEquals(3, missing.code());
            Run noInput = bare(fake.env(), "messages", "--input", dir.resolve("absent.jsonl").toString(), "--base-url", fake.url());
            assertEquals(3, noInput.code());
            assertTrue(noInput.err().contains("exportez d'abord les conversations"), noInput.err());
        }

        /** Le fichier des messages de cette conversation, tel quel. */
        String raw(String id) throws IOException { return Files.readString(folder().resolve(id + ".jsonl")); }

        @Test
        void sameResultWhateverTheBoundInclusivenessAndTheStatusHabit() throws Exception {
            for (boolean inclusive : List.of(false, true)) for (String habit : List.of("crisp", "206", "200")) {
                if (fake != null) fake.close();
                java.nio.file.Files.walk(dir).sorted(Collections.reverseOrder()).filter(p -> !p.equals(dir)).forEach(p -> p.toFile().delete());
                fake = FakeServer.crisp(6);
                fake.inclusiveTimestampBefore(inclusive);
                fake.messageStatusHabit(habit);
                List<String> ids = fake.ids();
                int[] sizes = {0, 1, 40, 41, 80, 130};
                for (int i = 0; i < ids.size(); i++) fake.messagesFor(ids.get(i), sizes[i]);
                fake.tieMessages(ids.get(4), 39, 2);                   // les 40e et 41e depuis le plus récent : à la couture
                fake.tieMessages(ids.get(5), 78, 3);
                fake.tieMessages(ids.get(5), 110, 12);
                exportAll("--nb", "100000");
                Run r = messages();
                assertEquals(0, r.code(), inclusive + "/" + habit + " : " + r.all());
                assertMessagesMatchServer();
                int before = fake.messageRequests;
                assertEquals(0, messages().code());
                assertEquals(before, fake.messageRequests, "rien n'a bougé : aucune requête");
            }
        }

        @Test
        void moreThanAPageOnOneMillisecondIsReadAsFarAsTheApiAllowsAndNamed() throws Exception {
            for (boolean inclusive : List.of(false, true)) {
                if (fake != null) fake.close();
                java.nio.file.Files.walk(dir).sorted(Collections.reverseOrder()).filter(p -> !p.equals(dir)).forEach(p -> p.toFile().delete());
                fake = FakeServer.crisp(3);
                fake.inclusiveTimestampBefore(inclusive);
                String tied = fake.ids().get(1);
                fake.messagesFor(tied, 70);
                fake.tieMessages(tied, 0, 45);
                exportAll("--nb", "100000");
                Run r = messages();
                assertEquals(0, r.code(), r.all());
                List<JsonNode> server = fake.messages(tied);
                long at = server.get(server.size() - 1).path("timestamp").asLong();
                List<JsonNode> got = messageFile(tied);
                assertEquals(25, got.stream().filter(m -> m.path("timestamp").asLong() < at).count(), "tous les plus anciens, au-delà du groupe");
                assertTrue(got.stream().filter(m -> m.path("timestamp").asLong() == at).count() >= 40, "au moins une page du groupe");
                assertTrue(r.out().contains("1 conversation(s) ont plus d'une page de messages sur une même milliseconde") && r.out().contains(tied), r.out());
                for (String id : fake.ids()) if (!id.equals(tied)) assertEquals(fake.messages(id).size(), messageFile(id).size());
                int before = fake.messageRequests;
                assertEquals(0, messages().code());
                assertEquals(before, fake.messageRequests, "lue aussi loin que possible, elle ne coûte plus rien");
            }
        }

        @Test
        void anEditReplacesTheStoredVersionAndNewMessagesComeWithoutRefresh() throws Exception {
            fake = FakeServer.crisp(4);
            String busy = fake.ids().get(2);
            fake.messagesFor(busy, 100);
            exportEverything();
            String line = Files.readString(file());
            fake.editMessage(busy, 3, "Message corrigé par l'opérateur.");
            fake.answer(busy);
            Run list = run("--nb", "100000");                     // sans --refresh : la ligne reste telle quelle
            assertEquals(0, list.code(), list.all());
            assertEquals(line, Files.readString(file()), "la ligne de la conversation n'est pas réécrite sans --refresh");
            int before = fake.messageRequests;
            Run r = messages();
            assertEquals(0, r.code(), r.all());
            assertEquals(1, fake.messageRequests - before, "une requête : la page rejoint l'historique inchangé");
            assertTrue(r.out().contains("1 message(s) exporté(s), 1 mis à jour"), r.out());
            assertMessagesMatchServer();
            before = fake.messageRequests;
            assertEquals(0, messages().code());
            assertEquals(before, fake.messageRequests, "la trace de l'export est rattrapée : rien à redemander");
            fake.editMessage(busy, 90, "Ancien message corrigé.");     // loin de la tête : seul --reset le revoit
            Run reset = messages("--reset");
            assertEquals(0, reset.code(), reset.all());
            assertTrue(reset.out().contains("1 mis à jour"), reset.out());
            assertMessagesMatchServer();
        }

        @Test
        void theExportCompactsItsTraceOfMovedConversationsUnderItsLock() throws Exception {
            fake = FakeServer.crisp(5);
            List<String> ids = fake.ids();
            exportEverything();
            fake.answer(ids.get(1));
            assertEquals(0, run("--nb", "100000").code());
            Path moved = sibling(".moved");
            List<String> trace = Files.readAllLines(moved);
            assertEquals(1, trace.size(), trace.toString());
            long current = JSON.readTree(trace.get(0)).path("updated_at").asLong();
            StringBuilder bloated = new StringBuilder();
            for (int i = 0; i < 12_000; i++) {
                bloated.append("{\"session_id\":\"").append(ids.get(1)).append("\",\"updated_at\":").append(current - 1 - i).append("}\n");
                bloated.append("{\"session_id\":\"").append(ids.get(3)).append("\",\"updated_at\":1}\n");   // déjà rattrapée par sa ligne
            }
            Files.writeString(moved, bloated + trace.get(0) + "\n" + "{\"session_id\":\"" + ids.get(4) + "\",\"upd");   // fin déchirée
            assertEquals(0, run("--nb", "100000").code());
            assertEquals(trace, Files.readAllLines(moved), "une ligne par conversation encore plus récente que sa ligne");
            int before = fake.messageRequests;
            Run r = messages();
            assertEquals(0, r.code(), r.all());
            assertEquals(1, fake.messageRequests - before);
            assertMessagesMatchServer();
        }

        @Test
        void aFailingConversationIsNamedRetriedThenLeftAsideWhileTheOthersGoOn() throws Exception {
            for (String how : List.of("500", "400", "deep", "utf8")) {
                if (fake != null) fake.close();
                java.nio.file.Files.walk(dir).sorted(Collections.reverseOrder()).filter(p -> !p.equals(dir)).forEach(p -> p.toFile().delete());
                fake = FakeServer.crisp(6);
                String bad = fake.ids().get(1);
                fake.failMessages(bad, how);
                exportAll("--nb", "100000");
                Run r = messages();
                assertEquals(6, r.code(), how + " : " + r.all());
                assertTrue(r.out().contains("1 conversation(s) en échec cette fois") && r.out().contains(bad + " : échec (1 sur 3"), how + " : " + r.out());
                assertTrue(r.out().contains("5 conversation(s) traitée(s)"), how + " : " + r.out());
                assertFalse(Files.exists(folder().resolve(bad + ".jsonl")));
                if (!how.equals("500")) continue;
                for (int run = 2; run <= 3; run++) {
                    int before = fake.messageRequests;
                    Run again = messages();
                    assertEquals(6, again.code(), again.all());
                    assertTrue(fake.messageRequests > before && again.out().contains(bad + " : échec (" + run + " sur 3"), again.out());
                }
                int before = fake.messageRequests;
                Run aside = messages();
                assertEquals(6, aside.code(), aside.all());
                assertEquals(before, fake.messageRequests, "abandonnée après 3 échecs : plus demandée");
                assertTrue(aside.out().contains("1 conversation(s) abandonnée(s)") && aside.out().contains(bad), aside.out());
                fake.failMessages(bad, null);
                fake.answer(bad);
                assertEquals(0, run("--nb", "100000").code());
                Run back = messages();
                assertEquals(0, back.code(), back.all());
                assertMessagesMatchServer();
            }
        }

        @Test
        void threeFailuresInARowStopTheRunCleanly() throws Exception {
            fake = FakeServer.crisp(8);
            exportAll("--nb", "100000");
            fake.always(new FakeServer.Status(500, null));
            Run down = messages();
            assertEquals(6, down.code(), down.all());
            assertTrue(down.err().contains("3 conversations de suite"), down.err());
            fake.always(null);
            Run back = messages();
            assertEquals(0, back.code(), back.all());
            assertTrue(back.out().contains("8 conversation(s) traitée(s)"), back.out());
            assertMessagesMatchServer();
        }

        @Test
        void aTransient404IsNotADeletionAndAConfirmedOneIsForgottenWhenTheConversationMoves() throws Exception {
            fake = FakeServer.crisp(4);
            List<String> ids = fake.ids();
            exportAll("--nb", "100000");
            fake.notFound(ids.get(1), 1);                        // les messages seulement : la conversation existe
            fake.notFound(ids.get(2), 2);                        // les messages puis la conversation : supprimée
            Run first = messages();
            assertEquals(6, first.code(), first.all());
            assertTrue(first.out().contains(ids.get(1) + " : échec") && first.out().contains(ids.get(2) + " : introuvable"), first.out());
            Run second = messages();
            assertEquals(0, second.code(), second.all());
            assertTrue(second.out().contains("1 conversation(s) traitée(s)") && second.out().contains("1 introuvable(s)"), second.out());
            assertFalse(Files.exists(folder().resolve(ids.get(2) + ".jsonl")));
            fake.answer(ids.get(2));
            assertEquals(0, run("--nb", "100000").code());
            Run moved = messages();
            assertEquals(0, moved.code(), moved.all());
            assertMessagesMatchServer();
        }

        @Test
        void aMissingOrDamagedFileIsReadAgainInFull() throws Exception {
            fake = FakeServer.crisp(4);
            List<String> ids = fake.ids();
            for (String id : ids) fake.messagesFor(id, 100);
            exportEverything();
            Files.delete(folder().resolve(ids.get(0) + ".jsonl"));
            List<String> lines = new ArrayList<>(Files.readAllLines(folder().resolve(ids.get(1) + ".jsonl")));
            lines.remove(50);
            Files.write(folder().resolve(ids.get(1) + ".jsonl"), lines);
            String torn = raw(ids.get(2));
            Files.writeString(folder().resolve(ids.get(2) + ".jsonl"), torn.substring(0, torn.length() - 30));
            int before = fake.messageRequests;
            Run r = messages();
            assertEquals(0, r.code(), r.all());
            assertEquals(3 * 3, fake.messageRequests - before, "trois conversations relues en entier (3 pages chacune), la quatrième pas");
            assertMessagesMatchServer();
            before = fake.messageRequests;
            assertEquals(0, messages().code());
            assertEquals(before, fake.messageRequests);
        }

        @Test
        void aJournalOfThePreviousVersionMakesEachConversationReadOnceInFull() throws Exception {
            fake = FakeServer.crisp(4);
            List<String> ids = fake.ids();
            fake.messagesFor(ids.get(0), 0);
            fake.messagesFor(ids.get(1), 60);
            exportEverything();
            Files.delete(folder().resolve(ids.get(0) + ".jsonl"));          // l'ancienne version n'écrivait rien sans message
            StringBuilder old = new StringBuilder();
            for (String line : Files.readAllLines(folder().resolve("messages.jsonl.fetched")))
                old.append(line.replaceAll(",\"bytes\":\\d+", "")).append('\n');
            Files.writeString(folder().resolve("messages.jsonl.fetched"), old);
            int before = fake.messageRequests;
            Run r = messages();
            assertEquals(0, r.code(), r.all());
            assertEquals(1 + 2 + 1 + 1, fake.messageRequests - before, "chacune relue en entier, une seule fois");
            assertMessagesMatchServer();
            before = fake.messageRequests;
            assertEquals(0, messages().code());
            assertEquals(before, fake.messageRequests);
        }

        @Test
        void exportOptionsBeforeMessagesAreRefusedAndSigtermSaysWhatToDo() throws Exception {
            fake = FakeServer.crisp(30);
            exportAll("--nb", "100000");
            for (String option : List.of("--nb 1", "--reset")) {
                List<String> args = new ArrayList<>(List.of(option.split(" ")));
                args.addAll(List.of("messages", "--input", file().toString(), "--base-url", fake.url()));
                Run r = bare(fake.env(), args.toArray(String[]::new));
                assertEquals(2, r.code(), r.all());
                assertTrue(r.err().contains("placez-les après"), r.err());
            }
            assertFalse(Files.exists(folder()), "rien d'écrit");
            int before = fake.requests;
            fake.inject(new FakeServer.Hang(20_000));
            Process p = bareChild(fake.env(), "messages", "--input", file().toString(), "--base-url", fake.url(), "--timeout", "30").start();
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (fake.requests == before && System.nanoTime() < deadline) Thread.sleep(20);
                assertTrue(p.isAlive() && fake.requests > before, "la commande doit être en cours quand le signal arrive");
                assertEquals(0, Reliability.exec("kill", "-TERM", String.valueOf(p.pid())));
                String out = output(p);
                assertEquals(143, p.exitValue(), out);
                assertTrue(out.contains("Interrompu : ce qui était exporté est enregistré ; relancez la même commande"), out);
            } finally {
                p.destroyForcibly().waitFor();
            }
        }
    }

    // ------------------------------------------------------------------ le lanceur ./jbang

    // ------------------------------------------------------------------ conv people : les profils des contacts

    @Nested
    @DisplayName("Profils des contacts : conv people")
    class People {
        Path peopleFile() { return dir.resolve("utilisateurs.jsonl"); }

        Path peopleSibling(String suffix) { return dir.resolve("utilisateurs.jsonl" + suffix); }

        Run people(String... args) { return peopleWith(fake.env(), args); }

        Run peopleWith(Map<String, String> env, String... args) {
            List<String> all = new ArrayList<>(List.of("people"));
            all.addAll(List.of(args));
            for (String[] option : new String[][] {{"--base-url", fake.url()}, {"--output", peopleFile().toString()}, {"--retry-base-ms", "1"}})
                if (!all.contains(option[0])) all.addAll(List.of(option));
            return bare(env, all.toArray(String[]::new));
        }

        /** L'ordre promis : e-mail en minuscules (Locale.ROOT), octets UTF-8 croissants, sans e-mail à la fin ; puis people_id. */
        static int order(JsonNode a, JsonNode b) {
            byte[] ea = email(a), eb = email(b);
            int byEmail = ea == null ? (eb == null ? 0 : 1) : eb == null ? -1 : java.util.Arrays.compareUnsigned(ea, eb);
            return byEmail != 0 ? byEmail : a.path("people_id").asText().compareTo(b.path("people_id").asText());
        }

        static byte[] email(JsonNode n) {
            String email = n.path("email").isTextual() ? n.path("email").asText() : "";
            return email.isBlank() ? null : email.toLowerCase(java.util.Locale.ROOT).getBytes(StandardCharsets.UTF_8);
        }

        /** Le fichier : des objets JSON, sans doublon de people_id, dans l'ordre promis ; rend les lignes. */
        List<JsonNode> assertPeopleFile() throws IOException {
            List<JsonNode> nodes = new ArrayList<>();
            for (String line : Files.readAllLines(peopleFile())) nodes.add(JSON.readTree(line));
            List<JsonNode> sorted = new ArrayList<>(nodes);
            sorted.sort(People::order);
            for (int i = 0; i < nodes.size(); i++)
                assertEquals(ids(sorted).get(i), ids(nodes).get(i), "ordre du fichier, ligne " + (i + 1) + " : " + nodes.get(i).path("email"));
            assertEquals(nodes.size(), new HashSet<>(ids(nodes)).size(), "doublons de people_id");
            return nodes;
        }

        static List<String> ids(List<JsonNode> nodes) { return nodes.stream().map(n -> n.path("people_id").asText()).toList(); }

        /** Chaque profil servi est dans le fichier, tel que servi, et rien d'autre. */
        void assertPeopleComplete() throws IOException {
            Map<String, JsonNode> served = fake.peopleSnapshot();
            List<JsonNode> nodes = assertPeopleFile();
            assertEquals(served.keySet(), new HashSet<>(ids(nodes)));
            for (JsonNode n : nodes) assertEquals(served.get(n.path("people_id").asText()), n, "ligne à jour");
        }

        @Test
        void exportsEveryProfileAsServedSortedByEmail() throws Exception {
            fake = FakeServer.people(130);
            Run r = people("--nb", "1000");
            assertEquals(0, r.code(), r.all());
            assertPeopleComplete();
            assertEquals("GET /v1/website/" + FakeServer.WEBSITE + "/people/profiles/1?per_page=50&sort_field=updated_at&sort_order=descending", fake.log.get(0));
            assertEquals(4, fake.requests, "trois pages de 50 et la page vide");
            assertTrue(r.out().contains("page 1 : 50 exporté(s), 0 ignoré(s) (0 déjà présent(s), 0 sans identifiant)"), r.out());
            assertTrue(r.out().contains("Terminé : 130 profil(s) exporté(s)"), r.out());
            assertTrue(r.out().contains("contient désormais 130 profil(s) (0 au départ) ; 4 requête(s) API utilisée(s)"), r.out());
            List<JsonNode> nodes = lines(peopleFile());
            assertFalse(nodes.get(nodes.size() - 1).has("email"), "les profils sans e-mail à la fin");
        }

        List<JsonNode> lines(Path file) throws IOException {
            List<JsonNode> nodes = new ArrayList<>();
            for (String line : Files.readAllLines(file)) nodes.add(JSON.readTree(line));
            return nodes;
        }

        @Test
        void fileOrderIgnoresCaseKeepsAccentsAndPutsProfilesWithoutEmailLast() throws Exception {
            fake = FakeServer.people(0);
            List<String> emails = java.util.Arrays.asList("zoé@example.com", "Bob@example.com", "contact@example.com", "élodie@example.com",
                    "ALICE@example.com", "jean@example.com", "contact.zeta@example.com", null, "Zacharie@example.com", "alice@example.com",
                    "jean+crisp@example.com", "Jean.Dupont@example.com", "", "contact.alpha@example.com", null, "Alice@Example.com");
            for (String email : emails) fake.addPerson(email);
            assertEquals(0, people().code());
            List<String> got = new ArrayList<>();
            for (JsonNode n : assertPeopleFile()) got.add(n.path("email").isTextual() ? n.path("email").asText().toLowerCase(java.util.Locale.ROOT) : "-");
            assertEquals(16, got.size());
            assertEquals(List.of("alice@example.com", "alice@example.com", "alice@example.com", "bob@example.com", "contact.alpha@example.com",
                    "contact.zeta@example.com", "contact@example.com", "jean+crisp@example.com", "jean.dupont@example.com", "jean@example.com",
                    "zacharie@example.com", "zoé@example.com", "élodie@example.com"), got.subList(0, 13));
            assertEquals(Set.of("-", ""), new HashSet<>(got.subList(13, 16)), "sans e-mail (absent ou vide) à la fin");
        }

        @Test
        void nbBoundsTheNewProfilesOfARunAndTheNextRunsContinue() throws Exception {
            fake = FakeServer.people(120);
            Run first = people();
            assertEquals(0, first.code(), first.all());
            assertEquals(50, assertPeopleFile().size(), "--nb vaut 50 par défaut");
            Run second = people("--nb", "40");
            assertTrue(second.out().contains("Terminé : 40 profil(s) exporté(s)") && second.out().contains("(50 au départ)"), second.out());
            Run third = people("--nb", "40");
            assertTrue(third.out().contains("Terminé : 30 profil(s) exporté(s)") && third.out().contains("Tous les profils sont exportés"), third.out());
            assertPeopleComplete();
        }

        @Test
        void quotaStopsCleanlyAndTheNextRunResumes() throws Exception {
            fake = FakeServer.people(200);
            fake.quota(2);
            Run r = people("--nb", "1000");
            assertEquals(5, r.code(), r.all());
            assertTrue(r.err().contains("quota") && r.err().contains("relancez demain"), r.err());
            assertEquals(100, assertPeopleFile().size(), "les deux pages reçues sont gardées");
            assertTrue(r.out().contains("Arrêté avant la fin : 100 profil(s) exporté(s)"), r.out());
            fake.quota(-1);
            Run next = people("--nb", "1000");
            assertEquals(0, next.code(), next.all());
            assertTrue(next.out().contains("Terminé : 100 profil(s) exporté(s), 100 ignoré(s) (100 déjà présent(s)"), next.out());
            assertPeopleComplete();
        }

        @Test
        void newAndChangedProfilesCostOnePageAfterACompleteExport() throws Exception {
            fake = FakeServer.people(400);
            assertEquals(0, people("--nb", "1000").code());
            assertEquals(9, fake.peopleRequests, "huit pages et la page vide");
            fake.advanceClock(24 * 3_600_000L);
            List<String> old = fake.peopleIds();
            fake.addPeople(6, true);
            fake.updatePerson(old.get(100));
            fake.updatePerson(old.get(300));
            int before = fake.peopleRequests;
            Run r = people("--refresh");
            assertEquals(0, r.code(), r.all());
            assertEquals(1, fake.peopleRequests - before, "la page 1 suffit : " + r.out());
            assertTrue(r.out().contains("Terminé : 6 profil(s) exporté(s)") && r.out().contains("2 mise(s) à jour"), r.out());
            assertPeopleComplete();
            before = fake.peopleRequests;
            Run idle = people();
            assertEquals(1, fake.peopleRequests - before, "rien de nouveau : une requête");
            assertTrue(idle.out().contains("Terminé : 0 profil(s) exporté(s)"), idle.out());
        }

        @Test
        void orderIgnoredByTheServerMissesNothingAndIsSaidOnce() throws Exception {
            fake = FakeServer.people(120);
            fake.peopleSort(FakeServer.PeopleSort.IGNORED);           // ordre de création, les nouveaux en dernière page
            assertEquals(0, people("--nb", "1000").code());
            fake.addPeople(5, true);
            int before = fake.peopleRequests;
            Run r = people("--nb", "1000");
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("Terminé : 5 profil(s) exporté(s)"), r.out());
            assertEquals(1, r.out().split("n'était pas dans l'ordre demandé", -1).length - 1, "dit une fois : " + r.out());
            assertEquals(4, fake.peopleRequests - before, "toute la liste : trois pages et la page vide");
            assertPeopleComplete();
        }

        @Test
        void orderRejectedFallsBackToTheDefaultOrderAndAWholeWalk() throws Exception {
            fake = FakeServer.people(80);
            fake.peopleSort(FakeServer.PeopleSort.REJECTED);
            Run r = people("--nb", "1000");
            assertEquals(0, r.code(), r.all());
            assertEquals(1, r.out().split("refuse le tri", -1).length - 1, "dit une fois : " + r.out());
            assertEquals(4, fake.peopleRequests, "le refus, puis deux pages et la page vide");
            assertEquals("GET /v1/website/" + FakeServer.WEBSITE + "/people/profiles/1?per_page=50", fake.log.get(1));
            fake.addPeople(3, true);
            fake.updatePerson(fake.peopleIds().get(70));
            Run next = people("--refresh");
            assertEquals(0, next.code(), next.all());
            assertTrue(next.out().contains("Terminé : 3 profil(s) exporté(s)") && next.out().contains("1 mise(s) à jour"), next.out());
            assertPeopleComplete();
        }

        @Test
        void killedDuringARunThenResumedLosesAndDoublesNothing() throws Exception {
            fake = FakeServer.people(1200);
            fake.beforeListPage(page -> sleepQuietly(15));
            Random random = new Random(19);
            int killed = 0;
            for (int round = 0; round < 4; round++) {
                int target = fake.peopleRequests + 2 + random.nextInt(15);
                Process p = bareChild(fake.env(), "people", "--base-url", fake.url(), "--output", peopleFile().toString(), "--retry-base-ms", "1",
                        "--nb", "100000", "--per-page", "20").start();
                Thread drain = Reliability.drain(p);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (fake.peopleRequests < target && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(1);
                Thread.sleep(random.nextInt(10));
                if (p.isAlive()) killed++;
                p.destroyForcibly().waitFor();
                drain.join();
                if (Files.exists(peopleFile())) {
                    String text = Files.readString(peopleFile());
                    Set<String> seen = new HashSet<>();
                    for (String line : text.substring(0, text.lastIndexOf('\n') + 1).split("\n"))
                        if (!line.isEmpty()) assertTrue(seen.add(JSON.readTree(line).path("people_id").asText()), "doublon après un arrêt brutal");
                }
                fake.addPeople(random.nextInt(20), true);
                fake.updatePerson(fake.peopleIds().get(500));
            }
            assertTrue(killed >= 3, "l'export devait tourner encore quand il a été tué (" + killed + " fois sur 4)");
            fake.beforeListPage(page -> { });
            Run last = people("--nb", "100000", "--full-refresh");
            assertEquals(0, last.code(), last.all());
            assertPeopleComplete();
        }

        @Test
        void wrongKeyIsExplainedAndTouchesNothing() throws Exception {
            fake = FakeServer.people(30);
            assertEquals(0, people().code());
            byte[] before = Files.readAllBytes(peopleFile());
            String stateBefore = Files.readString(peopleSibling(".state.json"));
            Map<String, String> env = new HashMap<>(fake.env());
            env.put("CRISP_KEY_PROD", "wrong-secret-value");
            assertWrongKeyTouchedNothing(peopleWith(env), peopleFile(), before, peopleSibling(".state.json"), stateBefore);
        }

        @Test
        void defaultOutputIsTheUtilisateursFolderAtTheRootOfTheCheckout() throws Exception {
            fake = FakeServer.people(25);
            Files.writeString(dir.resolve("conv.java"), "// repère du dépôt");
            Files.createDirectories(dir.resolve("conversations"));
            Path below = Files.createDirectories(dir.resolve("conversations/ailleurs"));
            Process p = bareChild(fake.env(), "people", "--base-url", fake.url(), "--retry-base-ms", "1").directory(below.toFile()).start();
            String out = output(p);
            assertEquals(0, p.exitValue(), out);
            assertEquals(25, Files.readAllLines(dir.resolve("utilisateurs/utilisateurs.jsonl")).size());
            assertTrue(out.contains("utilisateurs.jsonl contient désormais 25 profil(s)"), out);
        }

        @Test
        void aDamagedLineComesBackWithOneRequest() throws Exception {
            fake = FakeServer.people(60);
            assertEquals(0, people("--nb", "1000").code());
            List<String> lines = new ArrayList<>(Files.readAllLines(peopleFile()));
            String damaged = lines.get(7);
            lines.set(7, damaged.substring(0, damaged.length() - 20) + "#abîmée");
            Files.write(peopleFile(), lines);
            int details = fake.detailRequests;
            Run r = people();
            assertEquals(0, r.code(), r.all());
            assertEquals(1, fake.detailRequests - details, "le profil retiré est redemandé seul : " + r.out());
            assertPeopleComplete();
        }

        @Test
        void repairWordsSpeakOfProfilesAndOfThePeopleCommand() throws Exception {
            fake = FakeServer.people(60);
            assertEquals(0, people("--nb", "1000").code());
            List<String> lines = new ArrayList<>(Files.readAllLines(peopleFile()));
            lines.set(3, lines.get(3).substring(0, lines.get(3).length() - 20) + "#abîmée");
            lines.set(9, "{\"abîmée\":" + lines.get(9).substring(lines.get(9).length() / 2));
            Files.write(peopleFile(), lines);
            Run r = people();
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().contains("1 profil(s) redemandé(s) un à un") && r.out().contains("lancez une fois conv people --full-refresh"), r.out());
            assertTrue(r.out().contains("Lignes réparées : 1 profil(s) redemandé(s), 1 réécrit(s).") && r.out().contains("Tous les profils sont exportés"), r.out());
            assertFalse(r.out().contains("conversation") || r.out().contains("historique"), r.out());
        }

        @Test
        void badOptionsAndMissingVariablesTouchNothing() throws Exception {
            fake = FakeServer.people(10);
            for (String[] args : List.of(new String[] {"--per-page", "10"}, new String[] {"--nb", "0"}, new String[] {"--max-requests", "2"})) {
                Run r = people(args);
                assertEquals(2, r.code(), String.join(" ", args) + " → " + r.all());
                assertTrue(r.err().contains("Voir « conv people --help »"), r.err());
            }
            Run r = peopleWith(without(fake.env(), "ID_SITE_CRISP"));
            assertEquals(3, r.code(), r.all());
            assertTrue(r.err().contains("ID_SITE_CRISP"), r.err());
            assertEquals(0, fake.requests);
            assertFalse(Files.exists(peopleFile()));
        }

        @Test
        void aConversationsExportIsNotMistakenForTheProfiles() throws Exception {
            fake = FakeServer.crisp(30);
            assertEquals(0, run().code());
            fake.addPeople(10, false);
            Run r = people("--output", file().toString());
            assertEquals(3, r.code(), r.all());
            assertTrue(r.err().contains("--output"), r.err());
            assertEquals(0, fake.peopleRequests);
        }
    }

    // Pas « Launcher » : ce nom masquerait, dans toute la classe, le Launcher de JUnit qu'utilise main.
    @Nested
    @DisplayName("Lanceur ./jbang")
    class JbangLauncher {
        record Launch(int code, String out, String err) { }

        Path script;
        Path jbangDir;
        int runs;

        /**
         * Un petit script dans un dossier à part, et un JBANG_DIR vide à part dont l'amorce pointe sur le JBang déjà
         * installé (celui qui lance cette suite) : rien à télécharger, mais chaque script y est compilé à neuf.
         */
        @org.junit.jupiter.api.BeforeEach
        void setUp() throws IOException {
            Path launcher = Path.of("jbang").toAbsolutePath();
            Assumptions.assumeTrue(Files.isExecutable(launcher), "lancer la suite depuis le dossier du projet");
            var version = java.util.regex.Pattern.compile("(?m)^JBANG_VERSION=(\\S+)$").matcher(Files.readString(launcher));
            assertTrue(version.find());
            String home = System.getenv().getOrDefault("JBANG_DIR", System.getProperty("user.home") + "/.jbang");
            Path realBoot = Path.of(home, "bootstrap", version.group(1));
            Assumptions.assumeTrue(Files.isRegularFile(realBoot.resolve("classpath")), "JBang non amorcé par ./jbang");
            jbangDir = dir.resolve("jbang-home");
            Path bootstrap = jbangDir.resolve("bootstrap").resolve(version.group(1));
            Files.createDirectories(bootstrap);
            Files.copy(realBoot.resolve("classpath"), bootstrap.resolve("classpath"));
            script = dir.resolve("script").resolve("Hello.java");
            Files.createDirectories(script.getParent());
            writeScript("bonjour");
        }

        /** Le script, qui affiche {@code text} puis ses arguments, et sort avec leur nombre pour code. */
        void writeScript(String text) throws IOException {
            Files.writeString(script, "//CDS\npublic class Hello {\n    public static void main(String[] args) {\n"
                    + "        System.out.println(\"" + text + "\");\n"
                    + "        for (String a : args) System.out.println(\"[\" + a + \"]\");\n"
                    + "        System.exit(args.length);\n    }\n}\n");
        }

        Process start(Map<String, String> env, String... args) throws IOException {
            List<String> command = new ArrayList<>(List.of(Path.of("jbang").toAbsolutePath().toString(), "Hello.java"));
            command.addAll(List.of(args));
            ProcessBuilder pb = new ProcessBuilder(command).directory(script.getParent().toFile());
            pb.environment().remove("JAVA_HOME");
            pb.environment().remove("JBANG_CACHE_DIR");
            pb.environment().put("JBANG_DIR", jbangDir.toString());
            pb.environment().putAll(env);
            pb.redirectError(dir.resolve("launch-" + (++runs) + ".err").toFile());
            Process p = pb.start();
            p.getOutputStream().close();
            return p;
        }

        Launch finish(Process p, int run) throws Exception {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(180, TimeUnit.SECONDS), "le lanceur ne s'arrête pas");
            return new Launch(p.exitValue(), out, Files.readString(dir.resolve("launch-" + run + ".err")));
        }

        Launch launch(Map<String, String> env, String... args) throws Exception { return finish(start(env, args), runs); }

        Launch launch(String... args) throws Exception { return launch(Map.of(), args); }

        @Test
        void anUnwritableJbangDirIsNamedInAFrenchSentence() throws Exception {
            Path plain = Files.writeString(dir.resolve("un-fichier"), "pas un dossier");
            Launch launch = launch(Map.of("JBANG_DIR", plain.resolve("jbang").toString()));
            assertEquals(1, launch.code(), launch.err());
            assertTrue(launch.err().contains("impossible d'écrire dans") && launch.err().contains("JBANG_DIR"), launch.err());
            assertFalse(launch.err().contains("mkdir:") || launch.err().contains("Not a directory"), "erreur brute du système : " + launch.err());
        }

        /** Comme trois tâches cron juste après un git pull : les trois compilent le même script modifié en même temps. */
        @Test
        void concurrentFirstRunsAfterAChangeAllSucceed() throws Exception {
            assertEquals("bonjour\n[a b]\n", launch("a b").out());
            writeScript("salut");
            List<Process> started = new ArrayList<>();
            List<Integer> numbers = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                started.add(start(Map.of(), "x", "e'f"));
                numbers.add(runs);
            }
            for (int i = 0; i < 3; i++) {
                Launch launch = finish(started.get(i), numbers.get(i));
                assertEquals("salut\n[x]\n[e'f]\n", launch.out(), launch.err());
                assertEquals(2, launch.code(), launch.err());
            }
            assertEquals("salut\n", launch().out(), "la compilation partagée reste utilisable");
        }

        /** Un arrêt brutal pendant la construction laisse un jar tronqué (ou vide) : le lancement suivant le refait. */
        @Test
        void aJarDamagedByAKilledBuildIsRebuilt() throws Exception {
            Launch first = launch();
            assertEquals("bonjour\n", first.out(), first.err());
            Path jar;
            try (var walk = Files.walk(jbangDir.resolve("cache/jars"))) {
                jar = walk.filter(p -> p.getFileName().toString().equals("Hello.jar")).findFirst().orElseThrow();
            }
            byte[] whole = Files.readAllBytes(jar);
            Files.write(jar, java.util.Arrays.copyOf(whole, whole.length / 2));
            Launch truncated = launch("t");
            assertEquals("bonjour\n[t]\n", truncated.out(), truncated.err());
            Files.write(jar, new byte[0]);
            Launch empty = launch();
            assertEquals("bonjour\n", empty.out(), empty.err());
            assertEquals(0, empty.code(), empty.err());
            assertEquals("bonjour\n", launch().out(), "le jar refait sert ensuite");
        }
    }
}
