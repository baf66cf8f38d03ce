package org.locore.apps.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.locore.model.io.AtomicFiles;
import org.locore.model.io.FormatException;
import org.locore.model.locore.LocoreConfig;
import org.locore.model.locore.LocoreModel;
import org.locore.model.train.AdamW;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Training checkpoints in a folder: one sub-folder {@code step-000000123} per checkpoint holding
 * {@code model.safetensors} (the weights under the reference names, loadable by {@link LocoreModel#load}),
 * {@code optimizer.safetensors} ({@link AdamW} moments and step) and {@code state.json} (step, examples
 * consumed, the dropout generator's state, the training options and whatever the caller adds). A checkpoint is
 * written into a hidden temporary folder and renamed into place, so a crash never leaves a half-written
 * checkpoint under a real name; after each save only the newest {@code keep} remain.
 */
public final class Checkpoints {
    private static final Logger LOG = LoggerFactory.getLogger(Checkpoints.class);
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final Pattern NAME = Pattern.compile("step-(\\d{9})");
    /** Weights file in a checkpoint. */
    public static final String MODEL = "model.safetensors";
    /** Optimizer file in a checkpoint. */
    public static final String OPTIMIZER = "optimizer.safetensors";
    /** State file in a checkpoint. */
    public static final String STATE = "state.json";

    private final Path dir;
    private final int keep;

    /**
     * @param dir  the checkpoint folder (created when needed)
     * @param keep how many checkpoints to keep
     */
    public Checkpoints(Path dir, int keep) {
        if (keep < 1) throw new IllegalArgumentException("keep at least one checkpoint, got " + keep);
        this.dir = dir;
        this.keep = keep;
    }

    /** The folder. */
    public Path dir() {
        return dir;
    }

    /** What a checkpoint restores besides the weights and optimizer. */
    public record State(long step, long examples, Random dropoutRng, ObjectNode json) {
    }

    /**
     * Writes a checkpoint after {@code step} completed steps, then deletes older ones beyond {@code keep}.
     *
     * @param extra more fields for {@code state.json} (options, config), may be null
     * @return the checkpoint folder
     */
    public Path save(long step, long examples, Random dropoutRng, LocoreModel model, AdamW optimizer,
                     ObjectNode extra) throws IOException {
        Files.createDirectories(dir);
        Path target = dir.resolve(name(step));
        Path tmp = Files.createTempDirectory(dir, ".tmp-" + name(step) + "-");
        try {
            model.save(tmp.resolve(MODEL));
            optimizer.save(tmp.resolve(OPTIMIZER));
            ObjectNode state = JSON.createObjectNode();
            state.put("step", step);
            state.put("examples", examples);
            state.put("dropout_rng", encode(dropoutRng));
            if (extra != null) state.setAll(extra);
            byte[] bytes = JSON.writeValueAsBytes(state);
            AtomicFiles.write(tmp.resolve(STATE), out -> out.write(bytes));
            if (Files.exists(target)) deleteTree(target);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            deleteTree(tmp);
            throw e;
        }
        LOG.info("checkpoint {} (step {}, {} examples)", target, step, examples);
        rotate();
        return target;
    }

    /** Checkpoint folder name of a step. */
    public static String name(long step) {
        return String.format("step-%09d", step);
    }

    /** The complete checkpoints, oldest first (temporary folders of interrupted saves are ignored). */
    public List<Path> list() throws IOException {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) return out;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                if (NAME.matcher(p.getFileName().toString()).matches() && Files.isRegularFile(p.resolve(STATE))) {
                    out.add(p);
                }
            }
        }
        out.sort(Comparator.comparing(p -> p.getFileName().toString()));
        return out;
    }

    /** The newest complete checkpoint. */
    public Optional<Path> latest() throws IOException {
        List<Path> all = list();
        return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
    }

    /** Step number of a checkpoint folder. */
    public static long stepOf(Path checkpoint) {
        Matcher m = NAME.matcher(checkpoint.getFileName().toString());
        if (!m.matches()) throw new IllegalArgumentException(checkpoint + " is not a checkpoint folder");
        return Long.parseLong(m.group(1));
    }

    private void rotate() throws IOException {
        List<Path> all = list();
        for (int i = 0; i < all.size() - keep; i++) {
            LOG.debug("removing old checkpoint {}", all.get(i));
            deleteTree(all.get(i));
        }
        // leftovers of interrupted saves
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, ".tmp-step-*")) {
            for (Path p : ds) deleteTree(p);
        }
    }

    /** Reads the weights of a checkpoint. */
    public static LocoreModel loadModel(Path checkpoint, LocoreConfig config) throws IOException {
        return LocoreModel.load(checkpoint.resolve(MODEL), config);
    }

    /** Restores the optimizer state of a checkpoint into {@code optimizer}. */
    public static void loadOptimizer(Path checkpoint, AdamW optimizer, LocoreModel model) throws IOException {
        optimizer.load(checkpoint.resolve(OPTIMIZER), model.parameters());
    }

    /** Reads {@code state.json}. */
    public static State loadState(Path checkpoint) throws IOException {
        Path f = checkpoint.resolve(STATE);
        JsonNode n;
        try {
            n = JSON.readTree(Files.readAllBytes(f));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new FormatException(f, "not valid JSON: " + e.getOriginalMessage());
        }
        if (n == null || !n.isObject() || !n.path("step").canConvertToLong() || !n.path("examples").canConvertToLong()
                || !n.path("dropout_rng").isTextual()) {
            throw new FormatException(f, "not a checkpoint state (needs step, examples, dropout_rng)");
        }
        Random rng;
        try {
            rng = decode(n.get("dropout_rng").asText());
        } catch (IllegalArgumentException e) {
            throw new FormatException(f, "bad dropout_rng: " + e.getMessage());
        }
        return new State(n.get("step").asLong(), n.get("examples").asLong(), rng, (ObjectNode) n);
    }

    /** The exact state of a {@link Random} (its serialized form, base64). */
    static String encode(Random rng) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (ObjectOutputStream o = new ObjectOutputStream(b)) {
            o.writeObject(rng);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Base64.getEncoder().encodeToString(b.toByteArray());
    }

    static Random decode(String s) {
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(Base64.getDecoder().decode(s)))) {
            in.setObjectInputFilter(java.io.ObjectInputFilter.Config.createFilter("java.util.Random;!*"));
            Object o = in.readObject();
            if (o.getClass() != Random.class) throw new IllegalArgumentException("not a java.util.Random");
            return (Random) o;
        } catch (IOException | ClassNotFoundException e) {
            throw new IllegalArgumentException(e.toString());
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (var walk = Files.walk(p)) {
            for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }
}
