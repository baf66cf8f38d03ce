package org.locore.apps;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.testing.Fixtures;
import org.locore.apps.CommandRunner.Run;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.locore.apps.CommandRunner.run;

class InspectTest {
    @TempDir
    Path tmp;


    private static JsonNode inspect(String... files) throws Exception {
        String[] args = new String[files.length + 2];
        args[0] = "inspect";
        args[1] = "--json";
        for (int i = 0; i < files.length; i++) args[i + 2] = Fixtures.path(files[i]).toString();
        Run r = run(args);
        assertEquals(0, r.code(), r.err() + r.out());
        JsonNode all = new ObjectMapper().readTree(r.out());
        assertEquals(files.length, all.size());
        return all;
    }

    @Test
    void describesEveryLocalFeatureLayout() throws Exception {
        JsonNode all = inspect("hdf5/local_contiguous.hdf5", "hdf5/local_chunked.hdf5", "hdf5/local_compound.hdf5",
                "hdf5/local_virtual.hdf5");
        String[] layouts = {"contiguous", "chunked", "compound", "virtual"};
        for (int i = 0; i < 4; i++) {
            JsonNode d = all.get(i);
            assertEquals("hdf5", d.get("format").asText());
            JsonNode f = d.get("local_features");
            assertEquals(layouts[i], f.get("layout").asText());
            assertEquals(7, f.get("images").asInt());
            assertEquals(20, f.get("rows_per_image").asInt());
            assertEquals(16, f.get("descriptor_dim").asInt());
            assertEquals("[7, 20, 21]", f.get("shape").asText());
            assertEquals("/features", d.get("datasets").get(0).get("path").asText());
        }
        assertEquals("gzip+shuffle", all.get(1).get("local_features").get("compression").asText());
        assertTrue(all.get(2).get("local_features").get("stored_type").asText().contains("float16[20,16]"));
        JsonNode parts = all.get(3).get("local_features").get("part_files");
        assertEquals(2, parts.size());
        assertTrue(parts.get(0).asText().endsWith("local_part0.hdf5") && parts.get(1).asText().endsWith("local_part1.hdf5"));
    }

    @Test
    void describesCheckpointsShortlistsGroundTruthListsAndGlobals() throws Exception {
        JsonNode all = inspect("locore/locore_tiny_a.weights.safetensors", "dinov2/detector_tiny.pt",
                "dinov2/dinov2_tiny.pth", "pickles/nn_torch.pkl", "pickles/nn_numpy.pkl", "pickles/nn_torchsave.pt",
                "revisitop/gnd_roxford5k.pkl", "revisitop/gnd_rparis6k.pkl", "revisitop/roxford5k/test_query.txt",
                "hdf5/global.pt");
        JsonNode st = all.get(0);
        assertEquals("safetensors", st.get("format").asText());
        assertEquals(53, st.get("tensor_count").asInt());
        assertEquals(53, st.get("tensors").size());
        long params = 0;
        for (JsonNode t : st.get("tensors")) {
            long n = 1;
            for (String s : t.get("shape").asText().replaceAll("[\\[\\] ]", "").split(",")) n *= s.isEmpty() ? 1 : Long.parseLong(s);
            params += n;
        }
        assertEquals(params, st.get("parameters").asLong());
        JsonNode det = all.get(1);
        assertTrue(det.get("format").asText().startsWith("pytorch checkpoint"));
        assertEquals(9, det.get("tensor_count").asInt());
        assertEquals(64 * 64 + 64 + 4 * 64 + 1 + 64 + 1, det.get("parameters").asLong());
        assertTrue(all.get(2).get("tensor_count").asInt() > 20);
        for (int i = 3; i < 6; i++) {
            JsonNode s = all.get(i);
            assertTrue(s.get("format").asText().startsWith("shortlist"), s.toString());
            assertEquals(3, s.get("queries").asInt());
            assertEquals(10, s.get("length").asInt());
            assertEquals("[2, 9, 14, 15, 32]", s.get("first").get(0).get("ids").asText());
        }
        assertEquals("shortlist (torch pickle)", all.get(3).get("format").asText());
        assertEquals("shortlist (numpy pickle)", all.get(4).get("format").asText());
        assertEquals("shortlist (torch zip)", all.get(5).get("format").asText());
        JsonNode ox = all.get(6);
        assertEquals(70, ox.get("queries").asInt());
        assertEquals(4993, ox.get("gallery_images").asInt());
        assertEquals(6322, all.get(7).get("gallery_images").asInt());
        assertEquals("medium", ox.get("protocols").get(1).get("protocol").asText());
        assertEquals(70, ox.get("protocols").get(1).get("queries_with_positives").asInt());
        JsonNode list = all.get(8);
        assertEquals("image list", list.get("format").asText());
        assertEquals(70, list.get("images").asInt());
        JsonNode g = all.get(9);
        assertEquals(7, g.get("n").asInt());
        assertEquals(16, g.get("dim").asInt());
    }

    @Test
    void textOutputAndDimOption() throws Exception {
        Run r = run("inspect", "--dim", "8", Fixtures.path("hdf5/global.pt").toString(),
                Fixtures.path("pickles/nn_numpy.pkl").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("n: 14") && r.out().contains("dim: 8"), r.out());
        assertTrue(r.out().contains("format: shortlist (numpy pickle)"), r.out());
    }

    @Test
    void brokenFilesGiveOneLineErrorsAndExitStatus2() throws Exception {
        Path junk = tmp.resolve("junk.bin");
        Files.write(junk, new byte[]{1, 2, 3});
        Path trunc = tmp.resolve("trunc.safetensors");
        byte[] real = Files.readAllBytes(Fixtures.path("locore/locore_tiny_a.weights.safetensors"));
        Files.write(trunc, java.util.Arrays.copyOf(real, 5000));
        Run r = run("inspect", "--json", junk.toString(), trunc.toString(), tmp.resolve("missing").toString(),
                Fixtures.path("hdf5/global.pt").toString());
        assertEquals(2, r.code());
        JsonNode all = new ObjectMapper().readTree(r.out());
        assertEquals("error", all.get(0).get("format").asText());
        assertTrue(all.get(0).get("error").asText().contains("junk.bin"));
        assertTrue(all.get(1).get("error").asText().contains("trunc.safetensors"), all.get(1).toString());
        assertTrue(all.get(2).get("error").asText().contains("no such file"));
        assertEquals(7, all.get(3).get("n").asInt(), "good files are still described");
    }
}
