//! One sequential pass over an object's bytes: its SHA-256 and the virus scan, computed while
//! the bytes arrive so that complete never reads a whole object again.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use sha2::{Digest as _, Sha256};

/// The EICAR test string: content holding it is reported `infected`.
pub(crate) const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// Built once: building a searcher per chunk showed in profiles.
static EICAR_FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(EICAR));

#[derive(Clone)]
pub(crate) struct Digest {
    sha: Sha256,
    /// The last `EICAR.len() - 1` bytes seen, so a match may straddle two chunks.
    tail: Vec<u8>,
    infected: bool,
}

impl Default for Digest {
    fn default() -> Self {
        Digest { sha: Sha256::new(), tail: Vec::with_capacity(EICAR.len()), infected: false }
    }
}

impl Digest {
    pub fn update(&mut self, data: &[u8]) {
        self.sha.update(data);
        if self.infected || data.is_empty() {
            return;
        }
        let keep = EICAR.len() - 1;
        let mut seam = self.tail.clone();
        seam.extend_from_slice(&data[..data.len().min(keep)]);
        if EICAR_FINDER.find(&seam).is_some() || EICAR_FINDER.find(data).is_some() {
            self.infected = true;
            return;
        }
        if data.len() >= keep {
            self.tail.clear();
            self.tail.extend_from_slice(&data[data.len() - keep..]);
        } else {
            self.tail.extend_from_slice(data);
            let excess = self.tail.len().saturating_sub(keep);
            self.tail.drain(..excess);
        }
    }

    /// (lowercase hex SHA-256, whether the EICAR string was seen)
    pub fn finish(self) -> (String, bool) {
        (hex::encode(self.sha.finalize()), self.infected)
    }
}

/// Reads `len` bytes of `path` from `offset` into `digest` (blocking).
pub(crate) fn feed_from_file(path: &Path, offset: u64, len: u64, digest: &mut Digest) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = file.take(len);
    let mut storage = vec![0u8; READ_SIZE + PAGE - 1];
    let buf = page_aligned(&mut storage, READ_SIZE);
    let mut seen = 0u64;
    loop {
        let n = reader.read(buf)?;
        if n == 0 {
            break;
        }
        digest.update(&buf[..n]);
        seen += n as u64;
    }
    if seen != len {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "object is shorter than expected"));
    }
    Ok(())
}

const READ_SIZE: usize = 1 << 20;
const PAGE: usize = 4096;

/// `len` bytes of `storage` (which has `PAGE - 1` to spare) that start on a page boundary. The
/// kernel copies into memory that is not 64-byte aligned ~4× slower on AMD processors such
/// as the one this project was first measured on (1.5 against 6.5 GB/s from the page cache),
/// and a plain `Vec` may start anywhere.
fn page_aligned(storage: &mut [u8], len: usize) -> &mut [u8] {
    // `align_offset` may decline to answer (usize::MAX): then reads are merely slower.
    let start = storage.as_ptr().align_offset(PAGE);
    let start = if start < PAGE { start } else { 0 };
    &mut storage[start..start + len]
}

/// The digest of a multipart upload, fed in part order: the part that is next in order is
/// hashed while it streams in; parts that arrive early are hashed from disk once the gap
/// before them closes. Anything that breaks the order (a part re-sent after it was hashed,
/// a PUT that broke off mid-part) makes it `valid = false`, and complete then reads the
/// object once from disk instead.
pub(crate) struct InOrder {
    pub part_count: u32,
    pub next: u32,
    /// `None` while a PUT is feeding it.
    pub digest: Option<Digest>,
    pub valid: bool,
    /// Parts written in full but not yet fed, with the generation that wrote them.
    pub waiting: HashMap<u32, u64>,
    pub generation: HashMap<u32, u64>,
}

impl InOrder {
    pub fn new(part_count: u32) -> Self {
        InOrder {
            part_count,
            next: 1,
            digest: Some(Digest::default()),
            valid: true,
            waiting: HashMap::new(),
            generation: HashMap::new(),
        }
    }

    /// A PUT of `part` starts: returns its generation, and the digest when this PUT is the one
    /// to feed it.
    pub fn start_part(&mut self, part: u32) -> (u64, Option<Digest>) {
        let gen = self.generation.entry(part).or_insert(0);
        *gen += 1;
        let gen = *gen;
        self.waiting.remove(&part);
        if part < self.next {
            self.valid = false;
        }
        let feeds = self.valid && self.next == part;
        (gen, if feeds { self.digest.take() } else { None })
    }

    pub fn is_current(&self, part: u32, gen: u64) -> bool {
        self.generation.get(&part) == Some(&gen)
    }

    /// A PUT of `part` ended; `fed` is the digest it took, if any, and `ok` whether every byte
    /// arrived.
    pub fn end_part(&mut self, part: u32, gen: u64, fed: Option<Digest>, ok: bool) {
        let current = self.is_current(part, gen);
        match fed {
            Some(digest) => {
                if ok && current && self.valid {
                    self.next = part + 1;
                } else {
                    self.valid = false;
                }
                self.digest = Some(digest);
            }
            None if ok && current => {
                self.waiting.insert(part, gen);
            }
            None => {}
        }
    }

    /// The next part to feed from disk, with its generation, taking the digest for it.
    pub fn take_next_waiting(&mut self) -> Option<(u32, u64, Digest)> {
        if !self.valid {
            return None;
        }
        let gen = *self.waiting.get(&self.next)?;
        let digest = self.digest.take()?;
        self.waiting.remove(&self.next);
        Some((self.next, gen, digest))
    }

    /// The whole object's digest, when every part was fed in order.
    pub fn result(&self) -> Option<(String, bool)> {
        if !self.valid || self.next != self.part_count + 1 {
            return None;
        }
        self.digest.clone().map(Digest::finish)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_eicar_across_chunks() {
        let mut data = vec![b'a'; 100];
        data.extend_from_slice(EICAR);
        data.extend_from_slice(&[b'b'; 50]);
        for split in [1, 7, 100, 101, 130, EICAR.len() + 99] {
            let mut d = Digest::default();
            for chunk in data.chunks(split) {
                d.update(chunk);
            }
            assert!(d.finish().1, "missed with chunks of {split}");
        }
        let mut clean = Digest::default();
        clean.update(&EICAR[..EICAR.len() - 1]);
        clean.update(b"x");
        assert!(!clean.finish().1);
    }

    #[test]
    fn read_buffers_start_on_a_page() {
        let mut storage = vec![0u8; 100 + PAGE - 1];
        let buf = page_aligned(&mut storage, 100);
        assert_eq!(buf.len(), 100);
        assert_eq!(buf.as_ptr() as usize % PAGE, 0);
    }

    #[test]
    fn in_order_feeds_parts_in_order() {
        let mut o = InOrder::new(2);
        let (g2, d2) = o.start_part(2);
        assert!(d2.is_none(), "part 2 waits for part 1");
        o.end_part(2, g2, None, true);
        let (g1, d1) = o.start_part(1);
        let mut d1 = d1.expect("part 1 feeds");
        d1.update(b"one");
        o.end_part(1, g1, Some(d1), true);
        let (part, gen, mut d) = o.take_next_waiting().expect("part 2 is next");
        assert_eq!(part, 2);
        d.update(b"two");
        o.end_part(part, gen, Some(d), true);
        let mut whole = Digest::default();
        whole.update(b"onetwo");
        assert_eq!(o.result(), Some(whole.finish()));
        o.start_part(1);
        assert!(o.result().is_none(), "re-sending a fed part invalidates the running digest");
    }
}
