package org.locore.model.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.testing.Fixtures;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class TorchCheckpointTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static String torchPython;
    private static boolean looked;

    @TempDir
    Path tmp;

    /** A Python with torch, looked up once for the class (starting torch takes seconds), or null. */
    private static synchronized String torchPython() {
        if (!looked) {
            torchPython = Fixtures.python("torch");
            looked = true;
        }
        return torchPython;
    }

    private static long params(Map<String, Tensor> sd) {
        return sd.values().stream().mapToLong(Tensor::numel).sum();
    }

    @Test
    void readsTheDinov2StateDictWithTheOfficialNames() throws IOException {
        TorchCheckpoint ck = TorchCheckpoint.open(Fixtures.path("dinov2/dinov2_tiny.pth"));
        assertEquals(TorchCheckpoint.Format.ZIP, ck.format());
        Map<String, Tensor> sd = ck.stateDict();
        assertEquals(36, sd.size());
        // width 64, depth 2, mlp 256, patch 14, 37x37 grid + cls, 4 registers
        long perBlock = 2 * 64 + (192 * 64 + 192) + (64 * 64 + 64) + 64 + 2 * 64 + (256 * 64 + 256) + (64 * 256 + 64) + 64;
        long expected = 64 + 1370 * 64 + 4 * 64 + 64 + (64 * 3 * 14 * 14 + 64) + 2 * perBlock + 2 * 64;
        assertEquals(expected, params(sd));
        assertEquals(226_112, params(sd));
        List<String> names = new ArrayList<>(sd.keySet());
        assertEquals(List.of("cls_token", "pos_embed", "register_tokens", "mask_token", "patch_embed.proj.weight",
                "patch_embed.proj.bias", "blocks.0.norm1.weight"), names.subList(0, 7));
        assertEquals(List.of("norm.weight", "norm.bias"), names.subList(34, 36));
        assertArrayEquals(new long[]{1, 1370, 64}, sd.get("pos_embed").shape());
        assertArrayEquals(new long[]{1, 4, 64}, sd.get("register_tokens").shape());
        assertArrayEquals(new long[]{64, 3, 14, 14}, sd.get("patch_embed.proj.weight").shape());
        assertArrayEquals(new long[]{192, 64}, sd.get("blocks.1.attn.qkv.weight").shape());
        assertArrayEquals(new long[]{64}, sd.get("blocks.1.ls2.gamma").shape());
        for (Tensor t : sd.values()) {
            assertEquals(DType.F32, t.dtype(), t.name());
        }
        assertEquals("blocks.0.mlp.fc1.weight", sd.get("blocks.0.mlp.fc1.weight").name());
        // spot values printed with torch.load while writing this test
        assertArrayEquals(new float[]{0.06857314705848694f, 0.7625970244407654f, 0.7359051704406738f},
                java.util.Arrays.copyOf(sd.get("cls_token").toFloatArray(), 3));
        assertArrayEquals(new float[]{-0.10881330817937851f, 0.05897419527173042f, -0.025536322966217995f},
                java.util.Arrays.copyOf(sd.get("norm.bias").toFloatArray(), 3));
        assertInstanceOf(Map.class, ck.root());
    }

    @Test
    void unwrapsTheDetectorStateAndKeepsInt64() throws IOException {
        TorchCheckpoint ck = TorchCheckpoint.open(Fixtures.path("dinov2/detector_tiny.pt"));
        Map<?, ?> root = (Map<?, ?>) ck.root();
        assertEquals(List.of("state"), new ArrayList<>(root.keySet()));
        Map<String, Tensor> sd = ck.stateDict();
        assertEquals(List.of("conv1.weight", "conv1.bias", "bn.weight", "bn.bias", "bn.running_mean",
                "bn.running_var", "bn.num_batches_tracked", "conv2.weight", "conv2.bias"), new ArrayList<>(sd.keySet()));
        assertEquals(64 * 64 + 64 + 4 * 64 + 1 + 64 + 1, params(sd));
        assertEquals(4482, params(sd));
        Tensor nbt = sd.get("bn.num_batches_tracked");
        assertEquals(DType.I64, nbt.dtype());
        assertEquals(0, nbt.rank());
        assertArrayEquals(new long[]{1000}, nbt.toLongArray());
        assertArrayEquals(new long[]{64, 64, 1, 1}, sd.get("conv1.weight").shape());
        assertArrayEquals(new long[]{1, 64, 1, 1}, sd.get("conv2.weight").shape());
        assertArrayEquals(new float[]{-0.007798537611961365f}, sd.get("conv2.bias").toFloatArray());
        assertArrayEquals(new float[]{1.0927879810333252f, -1.4810878038406372f, 0.7508680820465088f},
                java.util.Arrays.copyOf(sd.get("conv2.weight").toFloatArray(), 3));
    }

    // ------------------------------------------------------------------------------ cross-checks with torch

    /**
     * Dumps every tensor of torch-loadable files as {name: {dtype, shape, values}}, flattening dicts; arguments
     * are (path, json out, 'torch' or 'pickle') triples. Imports torch once, however many files.
     */
    private static final String DUMP = String.join("\n",
            "import sys, json, pickle, torch",
            "def walk(prefix, o, flat):",
            "    if isinstance(o, dict):",
            "        for k, v in o.items(): walk(prefix + str(k) + '.', v, flat)",
            "    elif isinstance(o, torch.Tensor):",
            "        t = o.detach().contiguous()",
            "        vals = t.double().flatten().tolist() if t.is_floating_point() else t.flatten().tolist()",
            "        flat[prefix[:-1] if prefix else ''] = {'dtype': str(t.dtype).replace('torch.', ''),",
            "                                  'shape': list(t.shape), 'values': vals}",
            "args = sys.argv[1:]",
            "for i in range(0, len(args), 3):",
            "    path, out, how = args[i:i + 3]",
            "    obj = torch.load(path, map_location='cpu') if how == 'torch' else pickle.load(open(path, 'rb'))",
            "    flat = {}",
            "    walk('', obj, flat)",
            "    json.dump(flat, open(out, 'w'))");

    private static final Map<String, DType> TORCH_DTYPES = Map.of("float32", DType.F32, "float64", DType.F64,
            "float16", DType.F16, "bfloat16", DType.BF16, "int64", DType.I64, "int32", DType.I32, "uint8", DType.U8,
            "bool", DType.BOOL);

    /** Asserts that {@code actual} holds exactly the tensors (names, dtypes, shapes, values) of the dump. */
    private static void assertSameTensors(JsonNode expected, Map<String, Tensor> actual, String prefix) {
        assertEquals(expected.size(), actual.size(), "number of tensors");
        for (Iterator<Map.Entry<String, JsonNode>> it = expected.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey().substring(prefix.length());
            Tensor t = actual.get(name);
            assertTrue(t != null, "missing tensor " + name + " in " + actual.keySet());
            JsonNode x = e.getValue();
            assertEquals(TORCH_DTYPES.get(x.get("dtype").asText()), t.dtype(), name + " dtype");
            long[] shape = new long[x.get("shape").size()];
            for (int i = 0; i < shape.length; i++) shape[i] = x.get("shape").get(i).asLong();
            assertArrayEquals(shape, t.shape(), name + " shape");
            JsonNode v = x.get("values");
            assertEquals(v.size(), t.numel(), name + " numel");
            if (t.dtype().isFloating()) {
                double[] d = t.toDoubleArray();
                for (int i = 0; i < d.length; i++) {
                    assertEquals(v.get(i).asDouble(), d[i], 0.0, name + "[" + i + "]");
                }
            } else {
                long[] l = t.toLongArray();
                for (int i = 0; i < l.length; i++) {
                    assertEquals(v.get(i).asLong(), l[i], name + "[" + i + "]");
                }
            }
        }
    }

    /** Dumps several files with one Python process; {@code files} alternate path and 'torch'/'pickle'. */
    private Map<Path, JsonNode> dump(String python, Object... files) throws Exception {
        return run(python, "", files);
    }

    /** Runs {@code before} (which may create the files), then {@link #DUMP}, in one Python process. */
    private Map<Path, JsonNode> run(String python, String before, Object... files) throws Exception {
        List<String> args = new ArrayList<>();
        for (int i = 0; i < files.length; i += 2) {
            Path f = (Path) files[i];
            args.add(f.toString());
            args.add(tmp.resolve(f.getFileName() + ".json").toString());
            args.add((String) files[i + 1]);
        }
        Fixtures.runPython(python, before + "\n" + DUMP, args.toArray(new String[0]));
        Map<Path, JsonNode> out = new java.util.HashMap<>();
        for (int i = 0; i < files.length; i += 2) {
            Path f = (Path) files[i];
            out.put(f, JSON.readTree(tmp.resolve(f.getFileName() + ".json").toFile()));
        }
        return out;
    }

    @Test
    void fixturesAgreeWithTorchLoad() throws Exception {
        String python = torchPython();
        assumeTrue(python != null, "no Python with torch: cross-check with torch.load skipped");
        Path vit = Fixtures.path("dinov2/dinov2_tiny.pth");
        Path det = Fixtures.path("dinov2/detector_tiny.pt");
        Map<Path, JsonNode> expected = dump(python, vit, "torch", det, "torch");
        assertSameTensors(expected.get(vit), TorchCheckpoint.open(vit).stateDict(), "");
        assertSameTensors(expected.get(det), TorchCheckpoint.open(det).stateDict(), "state.");
    }

    /** Saves views (transposed, sliced, offset, expanded), float16, bfloat16, int64 and a parameter. */
    private static final String MAKE_VIEWS = String.join("\n",
            "import sys, os, pickle, torch",
            "d = os.path.dirname(sys.argv[1])",
            "torch.manual_seed(0)",
            "base = torch.randn(4, 6)",
            "half = torch.randn(3, 5).half()",
            "enc = {",
            "  'transposed': base.t(),",
            "  'sliced': base[1:, ::2],",
            "  'row': base[2],",
            "  'half_t': half.t(),",
            "  'bf16': torch.randn(2, 3, 4).to(torch.bfloat16).permute(2, 0, 1),",
            "  'longs': torch.arange(24, dtype=torch.int64).reshape(2, 3, 4)[:, 1:, ::3],",
            "  'expanded': torch.randn(3, 1).expand(3, 4),",
            "  'scalar': torch.tensor(7, dtype=torch.int64),",
            "  'empty': torch.zeros(0, 3),",
            "}",
            "head = torch.nn.Linear(3, 2)",
            "obj = {'model': {'enc': enc, 'head': head.state_dict()}, 'epoch': 3}",
            "torch.save(obj, os.path.join(d, 'views_zip.pt'))",
            "torch.save(obj, os.path.join(d, 'views_legacy.pt'), _use_new_zipfile_serialization=False)",
            "torch.save({'p': torch.nn.Parameter(base.t())}, os.path.join(d, 'param.pt'))",
            "pickle.dump(base[1:, ::2], open(os.path.join(d, 'view_pickled.pkl'), 'wb'))",
            "pickle.dump(half.t(), open(os.path.join(d, 'half_pickled.pkl'), 'wb'), protocol=2)");

    @Test
    void stridedViewsAndDtypesAgreeWithTorch() throws Exception {
        String python = torchPython();
        assumeTrue(python != null, "no Python with torch: strided-view checkpoints cannot be generated, skipped");
        Path param = tmp.resolve("param.pt");
        Map<Path, JsonNode> expected = run(python, MAKE_VIEWS, tmp.resolve("views_zip.pt"), "torch",
                tmp.resolve("views_legacy.pt"), "torch", param, "torch",
                tmp.resolve("view_pickled.pkl"), "pickle", tmp.resolve("half_pickled.pkl"), "pickle");
        for (String name : List.of("views_zip.pt", "views_legacy.pt")) {
            Path f = tmp.resolve(name);
            TorchCheckpoint ck = TorchCheckpoint.open(f);
            assertEquals(name.contains("legacy") ? TorchCheckpoint.Format.LEGACY : TorchCheckpoint.Format.ZIP,
                    ck.format());
            Map<String, Tensor> sd = ck.stateDict();
            assertSameTensors(expected.get(f), sd, "model.");
            assertEquals(DType.F16, sd.get("enc.half_t").dtype());
            assertEquals(DType.BF16, sd.get("enc.bf16").dtype());
            assertEquals(DType.I64, sd.get("enc.longs").dtype());
            assertEquals(3L, ((Map<?, ?>) ck.root()).get("epoch"));
        }
        assertSameTensors(expected.get(param), TorchCheckpoint.open(param).stateDict(), "");
        for (String name : List.of("view_pickled.pkl", "half_pickled.pkl")) {
            Path f = tmp.resolve(name);
            Object root = TorchUnpickler.load(f, Files.readAllBytes(f));
            Tensor t = assertInstanceOf(Tensor.class, root);
            assertSameTensors(expected.get(f), Map.of("", t), "");
        }
    }

    // ------------------------------------------------------------------------------ without Python

    @Test
    void materialisesStridedViewsOfAStorage() throws IOException {
        // storage 0..11 viewed as a 3x4 matrix transposed (size 4x3, stride 1,4), then from offset 1 with
        // stride (4, 2): every value can be worked out by hand
        ByteBuffer b = ByteBuffer.allocate(12 * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long i = 0; i < 12; i++) b.putLong(i);
        b.flip();
        TorchStorage s = TorchStorage.of(DType.I64, b);
        Path f = Path.of("hand-made");
        Tensor t = s.tensor(f, 0, new long[]{4, 3}, new long[]{1, 4});
        assertArrayEquals(new long[]{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, t.toLongArray());
        Tensor v = s.tensor(f, 1, new long[]{3, 2}, new long[]{4, 2});
        assertArrayEquals(new long[]{1, 3, 5, 7, 9, 11}, v.toLongArray());
        Tensor c = s.tensor(f, 6, new long[]{2, 3}, new long[]{3, 1});
        assertArrayEquals(new long[]{6, 7, 8, 9, 10, 11}, c.toLongArray());
        Tensor e = s.tensor(f, 11, new long[]{2, 2}, new long[]{0, 0});
        assertArrayEquals(new long[]{11, 11, 11, 11}, e.toLongArray());
        FormatException x = org.junit.jupiter.api.Assertions.assertThrows(FormatException.class,
                () -> s.tensor(f, 2, new long[]{3, 4}, new long[]{4, 1}));
        assertTrue(x.problem().contains("storage too short") && x.problem().contains("element 13"), x.problem());
    }
}
