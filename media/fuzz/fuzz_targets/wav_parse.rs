//! Read arbitrary bytes as a WAV file: never a panic, never more samples than the bytes can hold or
//! the cap allows; and whatever decodes, written back by `WavWriter`, reads back the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_media::wav::{self, ReadOptions, WavWriter};

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = wav::inspect(data) {
        assert!(info.data.end <= data.len(), "data range past the input");
    }
    // A small cap, so capped and uncapped paths are both reached by small inputs.
    let capped = ReadOptions {
        downmix: false,
        max_decoded_bytes: 4096,
    };
    if let Ok(a) = wav::read_with(data, &capped) {
        assert!(a.samples.len() * 2 <= 4096, "cap exceeded");
        assert!(a.samples.len() <= data.len(), "more samples than bytes");
        let mut w = WavWriter::new(a.rate, a.channels).expect("a read format can be written");
        let mut file = w.header().to_vec();
        w.write_samples(&a.samples, &mut file);
        let fin = w.finish();
        file[..fin.header.len()].copy_from_slice(&fin.header);
        let again = wav::read_with(&file, &capped).expect("own output reads");
        assert_eq!(again, a);
    }
    if let Ok(mono) = wav::read(data) {
        assert_eq!(mono.channels, 1);
    }
});
