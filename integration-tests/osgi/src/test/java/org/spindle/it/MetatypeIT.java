package org.spindle.it;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.options;

import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

import javax.inject.Inject;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.service.metatype.AttributeDefinition;
import org.osgi.service.metatype.MetaTypeInformation;
import org.osgi.service.metatype.MetaTypeService;
import org.osgi.service.metatype.ObjectClassDefinition;
import org.spindle.storage.api.Drive;

/** Tools that edit configuration (web consoles, shells) learn the drive fields from the metatype. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class MetatypeIT extends SpindleTestSupport {
    @Inject
    MetaTypeService metatype;

    @Configuration
    public Option[] config() {
        return options(spindleBundles());
    }

    @Test
    public void theDriveFactoryDescribesEveryField() {
        MetaTypeInformation info = metatype.getMetaTypeInformation(installedBundle("org.spindle.storage.core"));
        assertTrue(Arrays.toString(info.getFactoryPids()), Arrays.asList(info.getFactoryPids()).contains(Drive.FACTORY_PID));
        ObjectClassDefinition ocd = info.getObjectClassDefinition(Drive.FACTORY_PID, null);
        Map<String, AttributeDefinition> fields = new TreeMap<>();
        for (AttributeDefinition ad : ocd.getAttributeDefinitions(ObjectClassDefinition.ALL)) {
            fields.put(ad.getID(), ad);
        }
        // the same keys the drive manager reads
        assertEquals("[backend, cache, cacheBlockSize, cacheSize, format, id, media, overlay, readOnly, sectorSize]",
                fields.keySet().toString());
        assertEquals(1, ocd.getAttributeDefinitions(ObjectClassDefinition.REQUIRED).length);
        assertEquals("backend", ocd.getAttributeDefinitions(ObjectClassDefinition.REQUIRED)[0].getID());
        assertArrayEquals(new String[] {"auto"}, fields.get("format").getDefaultValue());
        assertArrayEquals(new String[] {"writeback", "writethrough", "unsafe"}, fields.get("cache").getOptionValues());
        assertArrayEquals(new String[] {"0", "512", "2048", "4096"}, fields.get("sectorSize").getOptionValues());
        assertArrayEquals(new String[] {"", "disk", "cdrom"}, fields.get("media").getOptionValues());
        assertEquals(AttributeDefinition.BOOLEAN, fields.get("readOnly").getType());
        assertEquals(AttributeDefinition.INTEGER, fields.get("sectorSize").getType());
    }
}
