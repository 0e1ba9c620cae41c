///usr/bin/env jbang "$0" "$@" ; exit $?
//DESCRIPTION Banc de mesure de conv : passages courants et premiers passages sur de gros fichiers, --refresh, débit, phases.
//JAVA 17+
//SOURCES ../fake/FakeServer.java
//DEPS com.fasterxml.jackson.core:jackson-databind:2.17.2

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Lance conv comme un utilisateur (./jbang conv.java …) contre le faux serveur Crisp et imprime, en Markdown prêt à
 * coller dans le README, les cas du tableau de l'issue 13 à côté de cp et cp + fsync du même fichier, le débit d'un
 * export propre et la répartition d'un passage par phases (si conv les donne avec CONV_PHASES=1).
 *
 * Usage, depuis la racine du dépôt :
 *   ./jbang bench/Bench.java                  100 000 et 1 000 000 conversations, puis débit sur 20 000
 *   ./jbang bench/Bench.java 100000           les seules lignes à 100 000 (et le débit)
 *   ./jbang bench/Bench.java quick            essai rapide : 10 000 conversations, débit sur 2 000
 *   ./jbang bench/Bench.java throughput       le seul débit
 * Options : --runs N (passages comptés, 3 par défaut), --throughput N (taille de l'export propre, 0 : aucun).
 * La progression va sur la sortie d'erreur, les tableaux sur la sortie standard.
 */
public class Bench {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Path ROOT = Path.of("").toAbsolutePath();
    static final Path WORK = ROOT.resolve("bench/work");
    static final String FILE_NAME = "conversations.jsonl";
    static final int NEW = 400;          // conversations nouvelles par passage (--nb 400)
    static final int TOUCHED = 200;      // conversations déjà exportées auxquelles un opérateur a répondu (--refresh)
    static final long CAPPED_FROM = 1_000_000;   // à partir de cette taille, tas limité comme dans l'issue 13
    static final long RUN_TIMEOUT_MINUTES = 15;
    static final List<String> PHASES = List.of("jvm", "main", "open", "requests", "rewrite", "end");

    static int runs = 3;

    /** Une exécution de la commande : durée, mémoire, sortie, requêtes servies, phases données par conv (ou null). */
    record Run(double seconds, long sumRssKb, long maxProcessKb, int exit, String output, int requests, double[] phases) { }

    /** Un cas mesuré : ses passages comptés, ou la raison pour laquelle il ne l'est pas. */
    record Case(String label, long size, String heap, List<Run> runs, String unavailable) { }

    /** cp puis cp + fsync d'un fichier de cette taille, en secondes. */
    record Copy(long size, long bytes, double[] cp, double[] durable) { }

    public static void main(String[] args) throws Exception {
        if (!Files.exists(ROOT.resolve("conv.java"))) {
            System.err.println("Lancez le banc depuis la racine du dépôt : ./jbang bench/Bench.java");
            System.exit(2);
        }
        List<Long> sizes = new ArrayList<>();
        Integer throughputCount = null;
        boolean sizesGiven = false, quick = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "quick" -> { sizes.add(10_000L); quick = true; sizesGiven = true; }
                case "throughput" -> sizesGiven = true;
                case "--runs" -> runs = Integer.parseInt(args[++i]);
                case "--throughput" -> throughputCount = Integer.parseInt(args[++i]);
                default -> {
                    if (!a.matches("\\d+")) {
                        System.err.println("Argument inconnu : " + a + ". Usage : ./jbang bench/Bench.java [quick|throughput|TAILLE…] [--runs N] [--throughput N]");
                        System.exit(2);
                    }
                    sizes.add(Long.parseLong(a));
                    sizesGiven = true;
                }
            }
        }
        if (!sizesGiven) sizes.addAll(List.of(100_000L, 1_000_000L));
        if (throughputCount == null) throughputCount = quick ? 2_000 : 20_000;
        if (runs < 1) throw new IllegalArgumentException("--runs doit valoir au moins 1");
        Files.createDirectories(WORK);

        String header = header();
        // Le premier lancement après une compilation écrit l'archive //CDS : ce doit être un export, pas --help
        // (sinon chaque export suivant charge ses classes hors archive ; issue 13).
        progress("Préchauffage : compilation éventuelle de conv.java et premier export…");
        warmUp();
        Run help = run(List.of("conv.java", "--help"), Map.of(), null);
        boolean refresh = help.output().contains("--refresh");
        if (!refresh) progress("conv ne connaît pas --refresh : ces lignes seront « non disponible ».");

        List<Case> cases = new ArrayList<>();
        List<Copy> copies = new ArrayList<>();
        for (long size : sizes) measureSize(size, refresh, cases, copies);
        List<String> throughput = throughputCount > 0 ? throughput(throughputCount) : List.of();

        StringBuilder out = new StringBuilder(header);
        if (!cases.isEmpty()) out.append(casesTable(cases, copies)).append('\n').append(phasesTable(cases)).append('\n');
        throughput.forEach(l -> out.append(l).append('\n'));
        // Les séparateurs de milliers de Locale.FRANCE sont des espaces insécables fines : le README a des espaces.
        System.out.print(out.toString().replace('\u202f', ' ').replace('\u00a0', ' '));
    }

    // ------------------------------------------------------------------ les cas

    /**
     * Tous les cas d'une taille, sur une copie du fichier de référence : cp, premiers passages (fichiers annexes
     * effacés avant chacun), passages courants (le dernier premier passage a laissé état et index), puis --refresh.
     * Chaque cas commence par un passage non compté. Le fichier grossit de 400 conversations à chaque passage.
     */
    static void measureSize(long size, boolean refresh, List<Case> cases, List<Copy> copies) throws Exception {
        Path base = WORK.resolve(size + "/" + FILE_NAME);
        if (!Files.exists(base)) generate(base, size);
        Path dir = WORK.resolve("run");
        clear(dir, null);
        Files.createDirectories(dir);
        Path file = dir.resolve(FILE_NAME);
        Files.copy(base, file, StandardCopyOption.REPLACE_EXISTING);
        copies.add(copy(size, base));

        String heap = size >= CAPPED_FROM ? "-Xmx128m" : "défaut";
        long[] expected = {size};
        try (FakeServer fake = FakeServer.crisp(0)) {
            Map<String, String> env = new HashMap<>(fake.env());
            if (size >= CAPPED_FROM) env.put("JAVA_TOOL_OPTIONS", "-Xmx128m");
            env.put("CONV_PHASES", "1");
            List<String> command = List.of("conv.java", "--nb", String.valueOf(NEW), "--base-url", fake.url(), "--output", file.toString());

            List<Run> first = new ArrayList<>();
            for (int i = 0; i <= runs; i++) {
                progress(String.format(Locale.FRANCE, "%,d : premier passage sans index %d/%d%s…", size, i, runs, i == 0 ? " (non compté)" : ""));
                clear(dir, file);   // un fichier venu d'ailleurs : ni état, ni index, ni verrou
                fake.add(NEW, true);
                Run r = checked(run(command, env, fake), file, expected, NEW);
                if (i > 0) first.add(r);
            }

            // Le dernier premier passage tient lieu de passage de préparation : état et index sont là.
            List<Run> daily = new ArrayList<>();
            for (int i = 0; i <= runs; i++) {
                progress(String.format(Locale.FRANCE, "%,d : passage courant %d/%d%s…", size, i, runs, i == 0 ? " (non compté)" : ""));
                fake.add(NEW, true);
                Run r = checked(run(command, env, fake), file, expected, NEW);
                if (i > 0) daily.add(r);
            }
            cases.add(new Case("passage courant (état et index présents)", size, heap, daily, null));
            cases.add(new Case("premier passage, fichier venu d'ailleurs (sans index)", size, heap, first, null));

            String refreshLabel = "passage courant --refresh (" + NEW + " nouvelles, " + TOUCHED + " déjà exportées mises à jour)";
            if (!refresh) {
                cases.add(new Case(refreshLabel, size, heap, List.of(), "non disponible"));
            } else {
                List<String> withRefresh = new ArrayList<>(command);
                withRefresh.add("--refresh");
                Random random = new Random(size);
                List<Run> refreshed = new ArrayList<>();
                for (int i = 0; i <= runs; i++) {
                    progress(String.format(Locale.FRANCE, "%,d : passage courant --refresh %d/%d%s…", size, i, runs, i == 0 ? " (non compté)" : ""));
                    // Toutes les conversations du faux serveur sont déjà dans le fichier : on en choisit 200 au hasard.
                    List<String> exported = new ArrayList<>(fake.ids());
                    Collections.shuffle(exported, random);
                    fake.add(NEW, true);
                    exported.subList(0, Math.min(TOUCHED, exported.size())).forEach(fake::touch);
                    Run r = checked(run(withRefresh, env, fake), file, expected, NEW);
                    if (i > 0) refreshed.add(r);
                }
                cases.add(new Case(refreshLabel, size, heap, refreshed, null));
            }
        } finally {
            clear(dir, null);
        }
    }

    /** Vérifie la sortie et le nombre de conversations du fichier après un passage qui en ajoute {@code added}. */
    static Run checked(Run r, Path file, long[] expected, int added) throws IOException {
        if (r.exit() != 0) throw new IllegalStateException("conv a échoué (code " + r.exit() + ") :\n" + r.output());
        expected[0] += added;
        Matcher m = Pattern.compile("contient désormais (\\d+) conversation").matcher(r.output());
        long count = -1;
        while (m.find()) count = Long.parseLong(m.group(1));
        if (count < 0) try (Stream<String> lines = Files.lines(file)) { count = lines.count(); }
        if (count != expected[0]) throw new IllegalStateException("le fichier a " + count + " conversations au lieu de " + expected[0] + " :\n" + r.output());
        return r;
    }

    /** cp du fichier, chronométré, puis fsync de la copie : un passage non compté, puis {@code runs}. */
    static Copy copy(long size, Path source) throws Exception {
        Path target = WORK.resolve("cp-" + FILE_NAME);
        double[] cp = new double[runs], durable = new double[runs];
        try {
            for (int i = 0; i <= runs; i++) {
                progress(String.format(Locale.FRANCE, "%,d : cp et fsync %d/%d%s…", size, i, runs, i == 0 ? " (non compté)" : ""));
                Files.deleteIfExists(target);
                long t0 = System.nanoTime();
                Process p = new ProcessBuilder("cp", source.toString(), target.toString()).inheritIO().start();
                if (p.waitFor() != 0) throw new IllegalStateException("cp a échoué");
                long t1 = System.nanoTime();
                try (FileChannel channel = FileChannel.open(target, StandardOpenOption.WRITE)) { channel.force(true); }
                long t2 = System.nanoTime();
                if (i > 0) {
                    cp[i - 1] = (t1 - t0) / 1e9;
                    durable[i - 1] = (t2 - t0) / 1e9;
                }
            }
        } finally {
            Files.deleteIfExists(target);
        }
        return new Copy(size, Files.size(source), cp, durable);
    }

    /** Un premier export minuscule : compile conv.java si besoin et écrit l'archive de classes sur un export. */
    static void warmUp() throws Exception {
        Path file = WORK.resolve("warmup/" + FILE_NAME);
        try (FakeServer fake = FakeServer.crisp(0)) {
            fake.add(40, true);
            Run r = run(List.of("conv.java", "--reset", "--nb", "40", "--base-url", fake.url(), "--output", file.toString()), fake.env(), fake);
            if (r.exit() != 0) throw new IllegalStateException("conv a échoué :\n" + r.output());
        } finally {
            clear(file.getParent(), null);
        }
    }

    /** Export propre de {@code count} conversations contre un faux serveur instantané, et démarrage à vide (--help). */
    static List<String> throughput(int count) throws Exception {
        Path file = WORK.resolve("throughput/" + FILE_NAME);
        Files.createDirectories(file.getParent());
        List<Run> exports = new ArrayList<>();
        List<Run> helps = new ArrayList<>();
        try (FakeServer fake = FakeServer.crisp(count)) {
            List<String> command = List.of("conv.java", "--reset", "--nb", String.valueOf(count), "--base-url", fake.url(), "--output", file.toString());
            for (int i = 0; i <= runs; i++) {
                progress(String.format(Locale.FRANCE, "Débit : export propre de %,d conversations %d/%d%s…", count, i, runs, i == 0 ? " (non compté)" : ""));
                long[] expected = {0};
                Run r = checked(run(command, fake.env(), fake), file, expected, count);
                if (i > 0) exports.add(r);
            }
            for (int i = 0; i < runs; i++) helps.add(run(List.of("conv.java", "--help"), Map.of(), null));
        } finally {
            clear(file.getParent(), null);
        }
        double[] seconds = values(exports, Run::seconds);
        double help = median(values(helps, Run::seconds));
        double total = median(seconds);
        List<String> lines = new ArrayList<>();
        lines.add("| export propre, faux serveur instantané | conversations | requêtes | temps : min / méd. / max | débit (médiane) | débit hors démarrage | mémoire max, tous processus | plus gros processus |");
        lines.add("|---|---:|---:|---:|---:|---:|---:|---:|");
        lines.add(String.format(Locale.FRANCE, "| `--reset --nb %d` | %,d | %d | %s | **%,.0f conversations/s** | %,.0f conversations/s | %,d Mo | %,d Mo |",
                count, count, exports.get(0).requests(), triple(seconds), count / total, count / Math.max(total - help, 1e-3),
                maxOf(exports, Run::sumRssKb) >> 10, maxOf(exports, Run::maxProcessKb) >> 10));
        lines.add("");
        lines.add(String.format(Locale.FRANCE, "Débit hors démarrage : temps de l'export moins la médiane de « ./jbang conv.java --help » (%.2f s, %d fois).", help, runs));
        return lines;
    }

    // ------------------------------------------------------------------ mesure d'une commande

    /** Lance ./jbang avec ces arguments ; mesure le temps, la mémoire de tous ses processus et les requêtes servies. */
    static Run run(List<String> args, Map<String, String> env, FakeServer fake) throws Exception {
        List<String> command = new ArrayList<>(List.of(ROOT.resolve("jbang").toString()));
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command).directory(ROOT.toFile()).redirectErrorStream(true);
        pb.environment().putAll(env);
        Path log = Files.createTempFile("bench", ".log");
        pb.redirectOutput(log.toFile());
        int before = fake == null ? 0 : requests(fake);
        long t0ms = System.currentTimeMillis();
        long t0 = System.nanoTime();
        Process p = pb.start();
        Sampler sampler = new Sampler(p.pid());
        long deadline = t0 + TimeUnit.MINUTES.toNanos(RUN_TIMEOUT_MINUTES);
        while (!p.waitFor(10, TimeUnit.MILLISECONDS)) {
            sampler.sample();
            if (System.nanoTime() > deadline) {
                p.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                throw new IllegalStateException("conv n'a pas fini en " + RUN_TIMEOUT_MINUTES + " min : " + String.join(" ", args));
            }
        }
        long t1 = System.nanoTime();
        long tEndMs = System.currentTimeMillis();
        String output = Files.readString(log);
        Files.delete(log);
        int served = fake == null ? 0 : requests(fake) - before;
        return new Run((t1 - t0) / 1e9, sampler.sumPeakKb, sampler.maxProcessKb(), p.exitValue(), output, served, phases(output, t0ms, tEndMs));
    }

    static int requests(FakeServer fake) {
        synchronized (fake) { return fake.requests; }
    }

    /**
     * La ligne « phases jvm=… main=… open=… requests=… rewrite=… end=… » (instants en ms depuis l'époque) que conv
     * écrit avec CONV_PHASES=1, traduite en durées : lanceur, démarrage JVM, ouverture, requêtes, réécriture, sortie.
     * Null si la ligne manque ou est incomplète.
     */
    static double[] phases(String output, long t0, long tEnd) {
        Map<String, Long> found = null;
        for (String line : output.split("\\R")) {
            String s = line.strip();
            if (!s.startsWith("phases ") && !s.startsWith("phases\t")) continue;
            Map<String, Long> values = new HashMap<>();
            Matcher m = Pattern.compile("(\\w+)\\s*=\\s*(-?\\d+)").matcher(s);
            while (m.find()) values.put(m.group(1), Long.parseLong(m.group(2)));
            if (values.keySet().containsAll(PHASES)) found = values;
        }
        if (found == null) return null;
        long[] instants = new long[PHASES.size() + 2];
        instants[0] = t0;
        for (int i = 0; i < PHASES.size(); i++) instants[i + 1] = found.get(PHASES.get(i));
        instants[instants.length - 1] = tEnd;
        double[] durations = new double[instants.length - 1];
        for (int i = 0; i < durations.length; i++) durations[i] = (instants[i + 1] - instants[i]) / 1e3;
        return durations;
    }

    /**
     * Mémoire résidente des processus de la commande (le lanceur et ses descendants), relevée toutes les 10 ms : la
     * plus grande somme à un même instant (VmRSS), et le plus gros processus seul (VmHWM, son maximum exact).
     */
    static final class Sampler {
        final long root;
        long sumPeakKb;
        final Map<Long, Long> hwm = new HashMap<>();
        final boolean childrenFiles;

        Sampler(long root) {
            this.root = root;
            this.childrenFiles = Files.exists(Path.of("/proc/self/task")) && Files.exists(Path.of("/proc/" + ProcessHandle.current().pid() + "/task/" + ProcessHandle.current().pid() + "/children"));
        }

        void sample() {
            long sum = 0;
            for (long pid : tree()) {
                try {
                    long rss = 0, high = 0;
                    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                        if (line.startsWith("VmRSS:")) rss = Long.parseLong(line.replaceAll("\\D", ""));
                        else if (line.startsWith("VmHWM:")) high = Long.parseLong(line.replaceAll("\\D", ""));
                    }
                    sum += rss;
                    hwm.merge(pid, high, Math::max);
                } catch (IOException | RuntimeException gone) { /* le processus vient de finir */ }
            }
            sumPeakKb = Math.max(sumPeakKb, sum);
        }

        long maxProcessKb() { return hwm.values().stream().mapToLong(Long::longValue).max().orElse(0); }

        /** Le lanceur et ses descendants ; les fichiers children de /proc évitent de parcourir tous les processus. */
        List<Long> tree() {
            if (!childrenFiles) {
                List<Long> all = new ArrayList<>(List.of(root));
                ProcessHandle.of(root).ifPresent(h -> h.descendants().forEach(d -> all.add(d.pid())));
                return all;
            }
            List<Long> all = new ArrayList<>();
            Deque<Long> todo = new ArrayDeque<>(List.of(root));
            while (!todo.isEmpty()) {
                long pid = todo.poll();
                all.add(pid);
                try (Stream<Path> tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
                    for (Path task : (Iterable<Path>) tasks::iterator) {
                        String children = Files.readString(task.resolve("children")).strip();
                        if (!children.isEmpty()) for (String c : children.split("\\s+")) todo.add(Long.parseLong(c));
                    }
                } catch (IOException | RuntimeException gone) { /* le processus vient de finir */ }
            }
            return all;
        }
    }

    // ------------------------------------------------------------------ tableaux

    static String header() throws Exception {
        StringBuilder b = new StringBuilder();
        b.append("Mesuré le ").append(ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("dd/MM/yyyy 'à' HH:mm 'UTC'"))).append(" ; machine : ");
        String nproc = command("nproc").strip();
        b.append(nproc.isEmpty() ? String.valueOf(Runtime.getRuntime().availableProcessors()) : nproc).append(" cœurs");
        String model = firstMatch(Path.of("/proc/cpuinfo"), "model name\\s*:\\s*(.+)");
        if (model != null) b.append(" (").append(model.strip()).append(')');
        String memory = firstMatch(Path.of("/proc/meminfo"), "MemTotal:\\s*(\\d+)\\s*kB");
        if (memory != null) b.append(String.format(Locale.FRANCE, ", %.1f Go de mémoire", Long.parseLong(memory) / 1024.0 / 1024.0));
        String java = System.getenv("JAVA_HOME") != null && Files.isExecutable(Path.of(System.getenv("JAVA_HOME"), "bin/java"))
                ? Path.of(System.getenv("JAVA_HOME"), "bin/java").toString() : "java";
        String version = command(java, "-version").lines().findFirst().orElse("?").strip();
        b.append(", ").append(version).append(".\n\n");
        b.append("Chiffres à cache chaud : le cache de pages n'est pas vidé, le fichier vient d'être lu ou écrit. ")
                .append("Temps de la commande entière `./jbang conv.java …`, JBang compris ; ").append(runs)
                .append(" passages comptés après un passage non compté. Mémoire : la plus grande somme des mémoires résidentes ")
                .append("de tous les processus de la commande à un même instant (relevée toutes les 10 ms), et le plus gros ")
                .append("processus seul, maximum sur les passages comptés.\n\n");
        return b.toString();
    }

    static String casesTable(List<Case> cases, List<Copy> copies) {
        Map<Long, Copy> bySize = new LinkedHashMap<>();
        copies.forEach(c -> bySize.put(c.size(), c));
        StringBuilder b = new StringBuilder();
        b.append("| cas | conversations | tas | temps : min / méd. / max | mémoire max, tous processus | plus gros processus | requêtes | cp : min / méd. / max | cp + fsync : min / méd. / max | passage / (cp + fsync), médianes |\n");
        b.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
        // L'ordre de l'issue 13 : passage courant puis premier passage pour chaque taille, puis les --refresh.
        List<Case> ordered = new ArrayList<>(cases.stream().filter(c -> !c.label().contains("--refresh")).toList());
        ordered.addAll(cases.stream().filter(c -> c.label().contains("--refresh")).toList());
        for (Case c : ordered) {
            Copy copy = bySize.get(c.size());
            String size = String.format(Locale.FRANCE, "%,d (%,d Mo)", c.size(), copy.bytes() >> 20);
            String cp = triple(copy.cp()), durable = triple(copy.durable());
            if (c.unavailable() != null) {
                b.append(String.format(Locale.FRANCE, "| %s | %s | %s | %s | – | – | – | %s | %s | – |\n", c.label(), size, c.heap(), c.unavailable(), cp, durable));
                continue;
            }
            double[] seconds = values(c.runs(), Run::seconds);
            b.append(String.format(Locale.FRANCE, "| %s | %s | %s | %s | %,d Mo | %,d Mo | %.0f | %s | %s | %.1f |\n", c.label(), size, c.heap(), triple(seconds),
                    maxOf(c.runs(), Run::sumRssKb) >> 10, maxOf(c.runs(), Run::maxProcessKb) >> 10, median(values(c.runs(), r -> r.requests())),
                    cp, durable, median(seconds) / median(copy.durable())));
        }
        b.append("\nChaque passage ajoute ").append(NEW).append(" conversations nouvelles (`--nb ").append(NEW)
                .append("`) ; avec `--refresh`, le faux serveur a aussi ").append(TOUCHED)
                .append(" conversations déjà exportées auxquelles un opérateur a répondu. cp et cp + fsync : copie du même fichier ")
                .append("par `cp`, puis fsync de la copie, dans la même exécution du banc.\n");
        return b.toString();
    }

    static String phasesTable(List<Case> cases) {
        StringBuilder b = new StringBuilder();
        List<Case> measured = cases.stream().filter(c -> c.unavailable() == null && !c.runs().isEmpty()).toList();
        List<Case> with = measured.stream().filter(c -> c.runs().stream().allMatch(r -> r.phases() != null)).toList();
        if (with.isEmpty()) {
            b.append("Répartition par phases : phases non disponibles (conv n'a pas écrit la ligne « phases … » avec CONV_PHASES=1).\n");
            return b.toString();
        }
        b.append("Répartition par phases (médianes des passages comptés, en secondes) :\n\n");
        b.append("| cas | conversations | lanceur | démarrage JVM | ouverture (état + index, ou lecture) | requêtes | réécriture | sortie | total |\n");
        b.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Case c : with) {
            b.append(String.format(Locale.FRANCE, "| %s | %,d |", c.label(), c.size()));
            for (int i = 0; i < PHASES.size(); i++) {
                int phase = i;
                b.append(String.format(Locale.FRANCE, " %.2f |", median(values(c.runs(), r -> r.phases()[phase]))));
            }
            b.append(String.format(Locale.FRANCE, " %.2f |\n", median(values(c.runs(), Run::seconds))));
        }
        measured.stream().filter(c -> !with.contains(c))
                .forEach(c -> b.append(String.format(Locale.FRANCE, "\n%s, %,d : phases non disponibles.", c.label(), c.size())));
        b.append("\nLanceur : du lancement de `./jbang` au démarrage du processus de la JVM de conv ; sortie : du dernier instant donné par conv à la fin du processus.\n");
        boolean negative = with.stream().flatMap(c -> c.runs().stream()).anyMatch(r -> Arrays.stream(r.phases()).anyMatch(d -> d < 0));
        if (negative)
            b.append("\nAttention : une durée est négative, les instants donnés par conv sont imprécis (par exemple un début de processus ")
                    .append("déduit de /proc à la seconde près) ou pris dans le désordre.\n");
        return b.toString();
    }

    static double[] values(List<Run> runs, ToDoubleFunction<Run> f) { return runs.stream().mapToDouble(f).toArray(); }

    static long maxOf(List<Run> runs, java.util.function.ToLongFunction<Run> f) { return runs.stream().mapToLong(f).max().orElse(0); }

    static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        int n = v.length;
        return n == 0 ? Double.NaN : n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }

    static String triple(double[] seconds) {
        double min = Arrays.stream(seconds).min().orElse(Double.NaN), max = Arrays.stream(seconds).max().orElse(Double.NaN);
        return String.format(Locale.FRANCE, "%.2f / %.2f / %.2f s", min, median(seconds), max);
    }

    // ------------------------------------------------------------------ outils

    static void progress(String message) { System.err.println(message); }

    /** Efface le contenu d'un dossier, sauf {@code keep} : fichiers annexes de conv (état, index, verrou, tri…). */
    static void clear(Path dir, Path keep) throws IOException {
        if (!Files.isDirectory(dir)) return;
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList())
                if (!p.equals(dir) && !p.equals(keep)) Files.delete(p);
        }
    }

    static String command(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            p.waitFor();
            return out;
        } catch (IOException | InterruptedException e) {
            return "";
        }
    }

    static String firstMatch(Path file, String regex) {
        try {
            Matcher m = Pattern.compile(regex, Pattern.MULTILINE).matcher(Files.readString(file));
            return m.find() ? m.group(1) : null;
        } catch (IOException e) {
            return null;
        }
    }

    static long top() { return 1_700_000_000_000L; }

    /** Un fichier trié de {@code size} conversations réalistes (~1,4 Ko chacune), écrit en flux, une fois pour toutes. */
    static void generate(Path target, long size) throws IOException {
        progress("Fabrication d'un fichier de " + size + " conversations (une seule fois)…");
        Files.createDirectories(target.getParent());
        Path tmp = target.resolveSibling("tmp");
        try (FakeServer source = FakeServer.crisp(0).reseed(size); OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
            for (long i = 0; i < size; i++) {
                out.write(JSON.writeValueAsBytes(source.sample(top() - i * 1000)));
                out.write('\n');
            }
        }
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
    }
}
