///usr/bin/env jbang "$0" "$@" ; exit $?
//DESCRIPTION Banc de mesure de conv : ajout de 400 conversations à de gros fichiers, débit, démarrage.
//JAVA 17+
//SOURCES ../fake/FakeServer.java
//DEPS com.fasterxml.jackson.core:jackson-databind:2.17.2

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Lance conv comme un utilisateur (./jbang conv.java …) contre le faux serveur Crisp et imprime un tableau :
 * taille du fichier, temps total, mémoire maximale (tous processus de la commande), rapport à une simple copie.
 * Usage, depuis la racine du dépôt : ./jbang bench/Bench.java [nombres de conversations…] (défaut : 100000 1000000).
 */
public class Bench {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Path ROOT = Path.of("").toAbsolutePath();
    static final Path WORK = ROOT.resolve("bench/work");

    record Measure(double seconds, long peakKb, int exit, String output) { }

    public static void main(String[] args) throws Exception {
        if (!Files.exists(ROOT.resolve("conv.java"))) {
            System.err.println("Lancez le banc depuis la racine du dépôt : ./jbang bench/Bench.java");
            System.exit(2);
        }
        long[] sizes = args.length == 0 ? new long[] {100_000, 1_000_000} : Arrays.stream(args).mapToLong(Long::parseLong).toArray();
        Files.createDirectories(WORK);
        System.out.println("Préchauffage (compilation de conv.java par JBang)…");
        run(List.of("conv.java", "--help"), Map.of());

        List<String> rows = new ArrayList<>();
        for (long size : sizes) rows.add(appendTo(size));
        String throughput = throughput(20_000);
        String startup = startup();

        System.out.println();
        System.out.println("| conversations dans le fichier | taille | copie du fichier (puis forcée sur disque) | 1er passage, sans index : temps, mémoire max "
                + "| passage courant, avec index (médiane de 3) : temps, mémoire max | rapport passage courant / copie | tas |");
        System.out.println("|---:|---:|---:|---:|---:|---:|---|");
        rows.forEach(System.out::println);
        System.out.println();
        System.out.println(throughput);
        System.out.println(startup);
    }

    /**
     * Ajoute 400 conversations nouvelles à un fichier trié de {@code size} conversations : une première fois sans
     * index (fichier venu d'ailleurs, ou modifié à la main : tout est relu), puis une fois de plus, comme chaque
     * jour ensuite (l'index écrit par l'exécution précédente évite de relire le fichier).
     */
    static String appendTo(long size) throws Exception {
        Path base = WORK.resolve(size + "/conversations.jsonl");
        if (!Files.exists(base)) generate(base, size);
        Path dir = WORK.resolve("run");
        Files.createDirectories(dir);
        Path file = dir.resolve("conversations.jsonl");
        for (String suffix : List.of("", ".state.json", ".lock", ".index")) Files.deleteIfExists(dir.resolve("conversations.jsonl" + suffix));
        long t0 = System.nanoTime();
        Files.copy(base, file, StandardCopyOption.REPLACE_EXISTING);
        double copy = (System.nanoTime() - t0) / 1e9;
        // conv force le fichier réécrit sur le disque avant de le renommer : la même copie, forcée, pour comparer.
        try (var channel = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) { channel.force(true); }
        double durableCopy = (System.nanoTime() - t0) / 1e9;
        // Un état « historique complet » : l'exécution ne lit que les nouveautés en tête de liste.
        Files.writeString(dir.resolve("conversations.jsonl.state.json"), "{\"format\":1,\"source\":\"crisp\",\"account\":\""
                + FakeServer.WEBSITE + "\",\"watermark\":" + top() + ",\"walks\":[]}");
        boolean capped = size >= 1_000_000;
        try (FakeServer fake = FakeServer.crisp(0)) {
            Map<String, String> env = new HashMap<>(fake.env());
            if (capped) env.put("JAVA_TOOL_OPTIONS", "-Xmx128m");
            List<String> command = List.of("conv.java", "--nb", "400", "--base-url", fake.url(), "--output", file.toString());
            Measure[] runs = new Measure[4];   // un premier passage, puis trois passages courants (médiane)
            for (int i = 0; i < runs.length; i++) {
                fake.add(400, true);
                System.out.println("Ajout de 400 conversations à " + (size + 400L * i) + " conversations…");
                runs[i] = run(command, env);
                if (runs[i].exit() != 0) throw new IllegalStateException("conv a échoué :\n" + runs[i].output());
                long lines;
                try (var s = Files.lines(file)) { lines = s.count(); }
                if (lines != size + 400L * (i + 1)) throw new IllegalStateException("le fichier a " + lines + " lignes");
            }
            Measure steady = median(runs);
            return String.format(Locale.FRANCE, "| %,d | %,d Mo | %.2f s (%.2f s forcée) | %.2f s, %,d Mo | %.2f s, %,d Mo | %.1f | %s |", size, Files.size(file) >> 20, copy, durableCopy,
                    runs[0].seconds(), runs[0].peakKb() >> 10, steady.seconds(), steady.peakKb() >> 10, steady.seconds() / copy,
                    capped ? "-Xmx128m" : "défaut");
        }
    }

    /** La médiane des passages courants (tous sauf le premier). */
    static Measure median(Measure[] runs) {
        Measure[] steady = Arrays.copyOfRange(runs, 1, runs.length);
        Arrays.sort(steady, java.util.Comparator.comparingDouble(Measure::seconds));
        return steady[steady.length / 2];
    }

    /** Coût côté client par conversation, contre un serveur qui répond sans délai. */
    static String throughput(int count) throws Exception {
        Path file = WORK.resolve("throughput/conversations.jsonl");
        Files.createDirectories(file.getParent());
        try (FakeServer fake = FakeServer.crisp(count)) {
            Measure help = run(List.of("conv.java", "--help"), Map.of());
            Measure m = run(List.of("conv.java", "--reset", "--nb", String.valueOf(count), "--base-url", fake.url(), "--output", file.toString()), fake.env());
            if (m.exit() != 0) throw new IllegalStateException(m.output());
            double work = m.seconds() - help.seconds();
            return String.format(Locale.FRANCE, "Débit : %,d conversations exportées en %.2f s (démarrage déduit : %.2f s), soit %,.0f conversations/s "
                    + "avec %d requêtes à un faux serveur local instantané.", count, m.seconds(), work, count / work, fake.requests);
        }
    }

    /** Démarrage à chaud de « ./jbang conv.java --help », avec et sans partage de classes (CDS) de JBang. */
    static String startup() throws Exception {
        double plain = median(List.of("conv.java", "--help"));
        run(List.of("--cds", "conv.java", "--help"), Map.of());
        double cds = median(List.of("--cds", "conv.java", "--help"));
        return String.format(Locale.FRANCE, "Démarrage à chaud de « ./jbang conv.java --help » : %.2f s (médiane de 5) ; avec --cds : %.2f s.", plain, cds);
    }

    static double median(List<String> args) throws Exception {
        double[] times = new double[5];
        for (int i = 0; i < times.length; i++) times[i] = run(args, Map.of()).seconds();
        Arrays.sort(times);
        return times[2];
    }

    /** Lance ./jbang avec ces arguments ; mesure le temps et la mémoire résidente maximale de tous ses processus. */
    static Measure run(List<String> args, Map<String, String> env) throws Exception {
        List<String> command = new ArrayList<>(List.of(ROOT.resolve("jbang").toString()));
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command).directory(ROOT.toFile()).redirectErrorStream(true);
        pb.environment().putAll(env);
        Path log = Files.createTempFile("bench", ".log");
        pb.redirectOutput(log.toFile());
        long t0 = System.nanoTime();
        Process p = pb.start();
        Map<Long, Long> peaks = new HashMap<>();
        while (p.isAlive()) {
            watch(p.toHandle(), peaks);
            p.toHandle().descendants().forEach(d -> watch(d, peaks));
            Thread.sleep(10);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        String output = Files.readString(log);
        Files.delete(log);
        return new Measure(seconds, peaks.values().stream().mapToLong(Long::longValue).max().orElse(0), p.exitValue(), output);
    }

    /** VmHWM : la mémoire résidente maximale du processus depuis son dernier exec. */
    static void watch(ProcessHandle process, Map<Long, Long> peaks) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + process.pid() + "/status")))
                if (line.startsWith("VmHWM:")) peaks.merge(process.pid(), Long.parseLong(line.replaceAll("\\D", "")), Math::max);
        } catch (IOException | RuntimeException gone) { /* le processus vient de finir */ }
    }

    static long top() { return 1_700_000_000_000L; }

    /** Un fichier trié de {@code size} conversations réalistes (~1,4 Ko chacune), écrit en flux. */
    static void generate(Path target, long size) throws IOException {
        System.out.println("Fabrication d'un fichier de " + size + " conversations (une seule fois)…");
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
