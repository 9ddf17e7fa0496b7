//! What rust-hdf5 0.7 reads but does not hand out: variable-length
//! attribute values (arrays of strings, `DIMENSION_LIST`'s sequences of
//! object references), the path of the object at a file address, which
//! resolving those references needs, and the groups of a file with their
//! attributes (rust-hdf5 reads a group's attributes only as strings).
//! Built from rust-hdf5's public format decoders (superblock, object
//! headers, symbol tables, link messages, dense link and attribute storage,
//! global heap); the file is read directly.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use rust_hdf5::format::btree_v1::{BTreeV1Config, BTreeV1Node};
use rust_hdf5::format::dense_attr::read_dense_attributes;
use rust_hdf5::format::dense_link::read_dense_links;
use rust_hdf5::format::global_heap::{decode_vlen_reference, GlobalHeapCollection};
use rust_hdf5::format::local_heap::{local_heap_get_string, LocalHeapHeader};
use rust_hdf5::format::messages::attr_info::AttributeInfoMessage;
use rust_hdf5::format::messages::attribute::AttributeMessage;
use rust_hdf5::format::messages::link::{LinkMessage, LinkTarget};
use rust_hdf5::format::messages::link_info::LinkInfoMessage;
use rust_hdf5::format::messages::{
    MSG_ATTRIBUTE, MSG_ATTR_INFO, MSG_FLAG_SHARED, MSG_GROUP_INFO, MSG_LINK, MSG_LINK_INFO,
    MSG_OBJ_HEADER_CONTINUATION, MSG_SYMBOL_TABLE,
};
use rust_hdf5::format::object_header::{ObjectHeader, ObjectHeaderMessage};
use rust_hdf5::format::reference::decode_object_element;
use rust_hdf5::format::superblock::{SuperblockV0V1, SuperblockV2V3, SymbolTableCache};
use rust_hdf5::format::symbol_table::SymbolTableNode;
use rust_hdf5::format::{BlockReader, FormatContext, FormatError, FormatResult, UNDEF_ADDR};

/// Deeper group nesting than this is taken for a cycle.
const MAX_DEPTH: usize = 64;
/// More continuation blocks than this in one header is taken for a cycle.
const MAX_CONTINUATIONS: usize = 4096;

/// An HDF5 file read at the format level.
pub(crate) struct RawFile {
    file: File,
    /// Where the superblock is: every address is measured from it.
    base: u64,
    ctx: FormatContext,
    btree: BTreeV1Config,
    root: u64,
    /// Object header address → path (`/group/name`), built on first use.
    objects: Option<HashMap<u64, String>>,
    heaps: HashMap<u64, GlobalHeapCollection>,
}

/// Reads blocks for rust-hdf5's decoders; addresses are relative to `base`.
struct Blocks<'a> {
    file: &'a File,
    base: u64,
}

impl BlockReader for Blocks<'_> {
    fn read_block(&mut self, offset: u64, len: usize) -> FormatResult<Vec<u8>> {
        read_at(self.file, self.base, offset, len).map_err(FormatError::InvalidData)
    }
}

/// Up to `len` bytes at `base + offset` (fewer only at the end of the file).
fn read_at(mut file: &File, base: u64, offset: u64, len: usize) -> Result<Vec<u8>, String> {
    let at = base
        .checked_add(offset)
        .ok_or_else(|| format!("address {offset:#x} is past any file"))?;
    file.seek(SeekFrom::Start(at)).map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(len.min(1 << 24));
    file.take(len as u64)
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    Ok(buf)
}

fn format_error(e: FormatError) -> String {
    e.to_string()
}

fn address(data: &[u8], size: usize) -> u64 {
    let mut bytes = [0u8; 8];
    let n = size.min(8).min(data.len());
    bytes[..n].copy_from_slice(&data[..n]);
    u64::from_le_bytes(bytes)
}

impl RawFile {
    /// Opens the file and reads its superblock.
    pub(crate) fn open(path: &Path) -> Result<Self, String> {
        let file = File::open(path).map_err(|e| e.to_string())?;
        let len = file.metadata().map_err(|e| e.to_string())?.len();
        let mut base = 0u64;
        loop {
            if base + 8 > len {
                return Err("no HDF5 signature".into());
            }
            if read_at(&file, base, 0, 8)?.as_slice() == b"\x89HDF\r\n\x1a\n" {
                break;
            }
            base = if base == 0 { 512 } else { base * 2 };
        }
        let buf = read_at(&file, base, 0, 1024)?;
        let version = *buf.get(8).ok_or("truncated superblock")?;
        let (ctx, btree, root) = match version {
            0 | 1 => {
                let sb = SuperblockV0V1::decode(&buf).map_err(format_error)?;
                let btree = BTreeV1Config {
                    sym_leaf_k: sb.sym_leaf_k,
                    snode_internal_k: sb.btree_internal_k,
                    ..BTreeV1Config::default()
                };
                let ctx = FormatContext {
                    sizeof_addr: sb.sizeof_offsets,
                    sizeof_size: sb.sizeof_lengths,
                };
                (ctx, btree, sb.root_symbol_table_entry.obj_header_addr)
            }
            2 | 3 => {
                let sb = SuperblockV2V3::decode(&buf).map_err(format_error)?;
                let ctx = FormatContext {
                    sizeof_addr: sb.sizeof_offsets,
                    sizeof_size: sb.sizeof_lengths,
                };
                (
                    ctx,
                    BTreeV1Config::default(),
                    sb.root_group_object_header_address,
                )
            }
            v => return Err(format!("superblock version {v} is unknown")),
        };
        Ok(Self {
            file,
            base,
            ctx,
            btree,
            root,
            objects: None,
            heaps: HashMap::new(),
        })
    }

    /// The bytes of each element of a variable-length attribute value
    /// (`raw` is the attribute's stored data: one heap id per element).
    pub(crate) fn vlen_elements(&mut self, raw: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        let width = 4 + usize::from(self.ctx.sizeof_addr) + 4;
        let mut out = Vec::with_capacity(raw.len() / width);
        for elem in raw.chunks_exact(width) {
            let (len, collection, index) =
                decode_vlen_reference(elem, &self.ctx).map_err(format_error)?;
            if len == 0 || collection == 0 || collection == UNDEF_ADDR {
                out.push(Vec::new());
                continue;
            }
            let heap = self.heap(collection)?;
            let index =
                u16::try_from(index).map_err(|_| format!("heap index {index} too large"))?;
            let bytes = heap
                .get_object(index)
                .ok_or_else(|| format!("global heap object {index} missing at {collection:#x}"))?;
            out.push(bytes.to_vec());
        }
        Ok(out)
    }

    fn heap(&mut self, addr: u64) -> Result<&GlobalHeapCollection, String> {
        if !self.heaps.contains_key(&addr) {
            let head = read_at(&self.file, self.base, addr, 64)?;
            let size = GlobalHeapCollection::decode_size(&head, &self.ctx).map_err(format_error)?;
            let buf = read_at(&self.file, self.base, addr, size)?;
            let (heap, _) = GlobalHeapCollection::decode(&buf, &self.ctx).map_err(format_error)?;
            self.heaps.insert(addr, heap);
        }
        self.heaps
            .get(&addr)
            .ok_or_else(|| "global heap vanished".to_string())
    }

    /// A `DIMENSION_LIST` attribute's value: per axis, the paths of the
    /// scales attached (object references resolved through the file's
    /// groups; a reference to nothing reachable is left out).
    pub(crate) fn dimension_list(&mut self, raw: &[u8]) -> Result<Vec<Vec<String>>, String> {
        let sa = usize::from(self.ctx.sizeof_addr);
        let axes = self.vlen_elements(raw)?;
        if self.objects.is_none() {
            let mut objects = HashMap::new();
            self.walk(self.root, String::new(), 0, &mut objects)?;
            self.objects = Some(objects);
        }
        let objects = self.objects.as_ref().ok_or("object index missing")?;
        let mut out = Vec::with_capacity(axes.len());
        for refs in axes {
            let mut paths = Vec::new();
            for elem in refs.chunks_exact(sa) {
                if let Some(addr) = decode_object_element(elem, &self.ctx).map_err(format_error)? {
                    if let Some(path) = objects.get(&addr) {
                        paths.push(path.clone());
                    }
                }
            }
            out.push(paths);
        }
        Ok(out)
    }

    /// Records `path` for the object at `addr`, and everything below it if
    /// it is a group. The first path reaching an object names it.
    fn walk(
        &mut self,
        addr: u64,
        path: String,
        depth: usize,
        out: &mut HashMap<u64, String>,
    ) -> Result<(), String> {
        if depth > MAX_DEPTH || out.contains_key(&addr) {
            return Ok(());
        }
        out.insert(
            addr,
            if path.is_empty() {
                "/".into()
            } else {
                path.clone()
            },
        );
        // Only the root must read: an object below whose header or links do
        // not decode keeps its path, and only its subtree goes unnamed.
        let links = self
            .header_messages(addr)
            .and_then(|messages| self.links(&messages));
        let links = match links {
            Ok(links) => links,
            Err(e) if depth == 0 => return Err(e),
            Err(_) => return Ok(()),
        };
        for (name, child) in links {
            self.walk(child, format!("{path}/{name}"), depth + 1, out)?;
        }
        Ok(())
    }

    /// Every group of the file (paths without the leading `/`, the root
    /// `""`), each with its attributes as stored; attributes kept in the
    /// file's shared-message heap are left out. A group reached by several
    /// hard links is listed once, under the first path that reaches it
    /// (depth first, links in name order); soft and external links are not
    /// followed.
    pub(crate) fn groups(&self) -> Result<Vec<(String, Vec<AttributeMessage>)>, String> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut pending = vec![(self.root, String::new(), 0usize)];
        while let Some((addr, path, depth)) = pending.pop() {
            if depth > MAX_DEPTH || !seen.insert(addr) {
                continue;
            }
            let messages = match self.header_messages(addr) {
                Ok(m) => m,
                Err(e) if depth == 0 => return Err(e),
                // A child whose header does not decode is not listed, as
                // the dataset listing skips what it cannot read.
                Err(_) => continue,
            };
            let is_group = messages.iter().any(|m| {
                matches!(
                    m.msg_type,
                    MSG_LINK | MSG_LINK_INFO | MSG_GROUP_INFO | MSG_SYMBOL_TABLE
                )
            });
            if !is_group {
                continue;
            }
            let attributes = self
                .attributes(&messages)
                .map_err(|e| format!("attributes of group /{path}: {e}"))?;
            let links = match self.links(&messages) {
                Ok(links) => links,
                Err(e) if depth == 0 => return Err(e),
                Err(_) => Vec::new(),
            };
            // Depth first in name order, as h5py's `visititems` (and the
            // libhdf5 backend) walk: the first path to reach a group names it.
            let mut links = links;
            links.sort_by(|a, b| b.0.cmp(&a.0));
            for (name, child) in links {
                let child_path = if path.is_empty() {
                    name
                } else {
                    format!("{path}/{name}")
                };
                pending.push((child, child_path, depth + 1));
            }
            out.push((path, attributes));
        }
        Ok(out)
    }

    /// The attributes an object header holds, in its messages (in header
    /// order) or in dense storage (in creation order where tracked, else by
    /// name). One that does not decode is left out, as the dataset reader
    /// leaves out what rust-hdf5 cannot read.
    fn attributes(
        &self,
        messages: &[ObjectHeaderMessage],
    ) -> Result<Vec<AttributeMessage>, String> {
        let mut out = Vec::new();
        for msg in messages {
            match msg.msg_type {
                MSG_ATTRIBUTE if msg.flags & MSG_FLAG_SHARED == 0 => {
                    if let Ok((attr, _)) = AttributeMessage::decode(&msg.data, &self.ctx) {
                        out.push(attr);
                    }
                }
                MSG_ATTR_INFO => {
                    let (info, _) =
                        AttributeInfoMessage::decode(&msg.data, &self.ctx).map_err(format_error)?;
                    let mut blocks = Blocks {
                        file: &self.file,
                        base: self.base,
                    };
                    let mut dense = read_dense_attributes(&info, &self.ctx, &mut blocks)
                        .map_err(format_error)?;
                    if dense.iter().all(|a| a.creation_index().is_some()) {
                        dense.sort_by_key(|a| a.creation_index());
                    } else {
                        dense.sort_by(|a, b| a.name().cmp(b.name()));
                    }
                    out.extend(dense.iter().filter_map(|a| a.readable().cloned()));
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// Every message of the object header at `addr`, continuation blocks
    /// followed.
    fn header_messages(&self, addr: u64) -> Result<Vec<ObjectHeaderMessage>, String> {
        let mut buf = read_at(&self.file, self.base, addr, 512)?;
        let header = loop {
            match ObjectHeader::decode_any(&buf) {
                Ok((header, _)) => break header,
                Err(FormatError::BufferTooShort { needed, .. }) if needed > buf.len() => {
                    let more = read_at(&self.file, self.base, addr, needed)?;
                    if more.len() <= buf.len() {
                        return Err(format!("object header at {addr:#x} is truncated"));
                    }
                    buf = more;
                }
                Err(e) => return Err(format_error(e)),
            }
        };
        let is_v2 = buf.starts_with(b"OHDR");
        let creation_order = is_v2 && header.flags & 0x04 != 0;
        let mut messages = header.messages;
        let (sa, ss) = (
            usize::from(self.ctx.sizeof_addr),
            usize::from(self.ctx.sizeof_size),
        );
        let mut next = 0;
        let mut followed = 0;
        while next < messages.len() {
            let msg = &messages[next];
            next += 1;
            if msg.msg_type != MSG_OBJ_HEADER_CONTINUATION || msg.data.len() < sa + ss {
                continue;
            }
            followed += 1;
            if followed > MAX_CONTINUATIONS {
                return Err(format!("object header at {addr:#x} loops"));
            }
            let at = address(&msg.data, sa);
            let len = address(&msg.data[sa..], ss) as usize;
            let block = read_at(&self.file, self.base, at, len)?;
            let found = continuation_messages(&block, is_v2, creation_order);
            messages.extend(found);
        }
        Ok(messages)
    }

    /// Every soft, external and user-defined link of the file's groups
    /// (link messages, compact or dense, and the soft links of old-style
    /// symbol-table groups, which h5py writes by default), with what it
    /// points to: the links a listing of objects does not follow, so that
    /// a caller can say so. Sorted by path.
    pub(crate) fn other_links(&self) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        for (group, _) in self.groups()? {
            let Some(addr) = self.resolve_group(&group)? else {
                continue;
            };
            let messages = self.header_messages(addr)?;
            for (name, member) in self.members(&messages)? {
                let Member::Other(what) = member else {
                    continue;
                };
                let path = if group.is_empty() {
                    name
                } else {
                    format!("{group}/{name}")
                };
                out.push((path, what));
            }
        }
        out.sort();
        Ok(out)
    }

    /// The object header address of the group at `path` (`""`: the root),
    /// following hard links.
    fn resolve_group(&self, path: &str) -> Result<Option<u64>, String> {
        let mut addr = self.root;
        for name in path.split('/').filter(|n| !n.is_empty()) {
            let messages = self.header_messages(addr)?;
            match self.links(&messages)?.into_iter().find(|(n, _)| n == name) {
                Some((_, child)) => addr = child,
                None => return Ok(None),
            }
        }
        Ok(Some(addr))
    }

    /// The hard links of a group (nothing for a dataset), however the group
    /// stores them.
    fn links(&self, messages: &[ObjectHeaderMessage]) -> Result<Vec<(String, u64)>, String> {
        Ok(self
            .members(messages)?
            .into_iter()
            .filter_map(|(name, member)| match member {
                Member::Hard(address) => Some((name, address)),
                Member::Other(_) => None,
            })
            .collect())
    }

    /// Every link of a group (nothing for a dataset), however the group
    /// stores them: link messages, dense link storage, or an old-style
    /// symbol table.
    fn members(&self, messages: &[ObjectHeaderMessage]) -> Result<Vec<(String, Member)>, String> {
        let mut out = Vec::new();
        let sa = usize::from(self.ctx.sizeof_addr);
        for msg in messages {
            match msg.msg_type {
                MSG_LINK => {
                    let (link, _) =
                        LinkMessage::decode(&msg.data, &self.ctx).map_err(format_error)?;
                    out.push(member(link));
                }
                MSG_LINK_INFO => {
                    let (info, _) =
                        LinkInfoMessage::decode(&msg.data, &self.ctx).map_err(format_error)?;
                    let mut blocks = Blocks {
                        file: &self.file,
                        base: self.base,
                    };
                    out.extend(
                        read_dense_links(&info, &self.ctx, &mut blocks)
                            .map_err(format_error)?
                            .into_iter()
                            .map(member),
                    );
                }
                MSG_SYMBOL_TABLE if msg.data.len() >= 2 * sa => {
                    let btree = address(&msg.data, sa);
                    let heap = address(&msg.data[sa..], sa);
                    out.extend(self.symbol_table(btree, heap)?);
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The links of an old-style group: a B-tree of symbol table nodes
    /// whose names (and soft links' targets) live in a local heap.
    fn symbol_table(&self, btree: u64, heap: u64) -> Result<Vec<(String, Member)>, String> {
        let (sa, ss) = (
            usize::from(self.ctx.sizeof_addr),
            usize::from(self.ctx.sizeof_size),
        );
        let head = read_at(&self.file, self.base, heap, 64)?;
        let heap = LocalHeapHeader::decode(&head, sa, ss).map_err(format_error)?;
        let names = read_at(
            &self.file,
            self.base,
            heap.data_addr,
            heap.data_size as usize,
        )?;
        let mut nodes = Vec::new();
        let mut pending = vec![(btree, 0usize)];
        while let Some((node_addr, depth)) = pending.pop() {
            if depth > MAX_DEPTH {
                return Err("group B-tree too deep".into());
            }
            let size = self.btree.snode_btree_node_size(sa, ss);
            let buf = read_at(&self.file, self.base, node_addr, size)?;
            let node = BTreeV1Node::decode(&buf, sa, ss, self.btree.snode_max_entries())
                .map_err(format_error)?;
            if node.level == 0 {
                nodes.extend(node.children);
            } else {
                pending.extend(node.children.into_iter().map(|c| (c, depth + 1)));
            }
        }
        let mut out = Vec::new();
        for snod in nodes {
            let size = self.btree.symbol_table_node_size(sa, ss);
            let buf = read_at(&self.file, self.base, snod, size)?;
            let node = SymbolTableNode::decode(&buf, sa, ss, self.btree.sym_leaf_max_entries())
                .map_err(format_error)?;
            for entry in node.entries {
                let name =
                    local_heap_get_string(&names, entry.name_offset).map_err(format_error)?;
                if name.is_empty() {
                    continue;
                }
                let member = match entry.cache {
                    SymbolTableCache::SoftLink { value_offset } => Member::Other(
                        match local_heap_get_string(&names, u64::from(value_offset)) {
                            Ok(target) => format!("soft link to {target}"),
                            Err(_) => "soft link (target unreadable)".to_string(),
                        },
                    ),
                    _ => Member::Hard(entry.obj_header_addr),
                };
                out.push((name, member));
            }
        }
        Ok(out)
    }
}

/// One link of a group.
enum Member {
    /// A hard link: the object header's address.
    Hard(u64),
    /// A soft, external or user-defined link, which listings do not
    /// follow: what it points to, in words.
    Other(String),
}

fn member(link: LinkMessage) -> (String, Member) {
    let what = match link.target {
        LinkTarget::Hard { address } => return (link.name, Member::Hard(address)),
        LinkTarget::Soft { target } => format!("soft link to {target}"),
        LinkTarget::External { file, path } => format!("external link to {file}:{path}"),
        LinkTarget::UserDefined { link_type, .. } => {
            format!("user-defined link (class {link_type})")
        }
    };
    (link.name, Member::Other(what))
}

fn continuation_messages(
    block: &[u8],
    is_v2: bool,
    creation_order: bool,
) -> Vec<ObjectHeaderMessage> {
    let mut out = Vec::new();
    if is_v2 {
        if block.len() < 8 || !block.starts_with(b"OCHK") {
            return out;
        }
        let end = block.len() - 4;
        let head = if creation_order { 6 } else { 4 };
        let mut pos = 4;
        while pos + head <= end {
            let msg_type = block[pos];
            let size = usize::from(u16::from_le_bytes([block[pos + 1], block[pos + 2]]));
            let flags = block[pos + 3];
            pos += head;
            if pos + size > end {
                break;
            }
            if msg_type != 0 {
                out.push(ObjectHeaderMessage {
                    msg_type,
                    flags,
                    creation_index: 0,
                    data: block[pos..pos + size].to_vec(),
                });
            }
            pos += size;
        }
    } else {
        let mut pos = 0;
        while pos + 8 <= block.len() {
            let msg_type = u16::from_le_bytes([block[pos], block[pos + 1]]);
            let size = usize::from(u16::from_le_bytes([block[pos + 2], block[pos + 3]]));
            let flags = block[pos + 4];
            pos += 8;
            if pos + size > block.len() {
                break;
            }
            if msg_type != 0 {
                out.push(ObjectHeaderMessage {
                    msg_type: msg_type as u8,
                    flags,
                    creation_index: 0,
                    data: block[pos..pos + size].to_vec(),
                });
            }
            pos = (pos + size + 7) & !7;
        }
    }
    out
}
