package org.spindle.it;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.options;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.List;

import javax.inject.Inject;

import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.spindle.storage.api.DriveDTO;
import org.spindle.storage.api.DriveState;

/** The drive: commands, run through the Gogo command processor as a person at the shell would. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ShellIT extends SpindleTestSupport {
    @Inject
    CommandProcessor processor;

    @Configuration
    public Option[] config() {
        return options(spindleBundles());
    }

    @Test
    public void attachInfoListDetach() throws Exception {
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(printed, true);
        try (CommandSession session = processor.createSession(new ByteArrayInputStream(new byte[0]), out, out)) {
            Object attached = session.execute("drive:attach --cache unsafe sh0 'memory:sh0?size=8M'");
            assertTrue(attached instanceof DriveDTO);
            assertEquals(DriveState.ATTACHED, ((DriveDTO) attached).state);
            assertEquals("unsafe", ((DriveDTO) attached).cache);

            Object readOnly = session.execute("drive:attach -r sh1 memory:sh0");
            assertEquals("the writer holds the volume", "IN_USE", ((DriveDTO) readOnly).failureKind);

            DriveDTO info = (DriveDTO) session.execute("drive:info sh0");
            assertEquals(8L << 20, info.capacity);
            String details = session.format(info, org.apache.felix.service.command.Converter.INSPECT).toString();
            assertTrue(details, details.contains("capacity       8 MiB (8388608 bytes)"));

            List<?> list = (List<?>) session.execute("drive:list");
            assertEquals(2, list.size());
            String line = session.format(list.get(0), org.apache.felix.service.command.Converter.LINE).toString();
            assertTrue(line, line.startsWith("sh0") && line.contains("ATTACHED") && line.contains("8 MiB"));

            DriveDTO detached = (DriveDTO) session.execute("drive:detach sh0");
            assertEquals("sh0", detached.id);
            awaitGone("sh0");
            try {
                session.execute("drive:info sh0");
                throw new AssertionError("info of a detached drive must fail");
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage(), e.getMessage().contains("no drive 'sh0' (drives: sh1)"));
            }
        }
    }
}
