//! `cat`: print a vault object (the config, or one snapshot as JSON).

use comet_core::snapshot::format_time;
use serde::Serialize;

use super::snapshots::SnapshotJson;
use crate::cli::{CatArgs, CatObject};
use crate::context::Context;
use crate::error::{Outcome, Result};
use crate::output::{Printer, human_bytes, rfc3339};

#[derive(Serialize)]
struct ChunkerJson {
    min: u32,
    avg: u32,
    max: u32,
}

#[derive(Serialize)]
struct ConfigJson {
    version: u32,
    vault_id: String,
    chunker: ChunkerJson,
    pack_size: u32,
    compression_level: i32,
    created: String,
    created_ns: i64,
}

pub(super) async fn run(context: &Context, args: &CatArgs, printer: &mut Printer<'_>) -> Result<Outcome> {
    let repo = context.open().await?;
    match &args.object {
        CatObject::Config => {
            let c = repo.config();
            if printer.json {
                printer.json(&ConfigJson {
                    version: c.version,
                    vault_id: c.id_hex(),
                    chunker: ChunkerJson { min: c.chunker.min, avg: c.chunker.avg, max: c.chunker.max },
                    pack_size: c.pack_size,
                    compression_level: c.compression_level,
                    created: rfc3339(c.created_ns),
                    created_ns: c.created_ns,
                })?;
            } else {
                printer.line(format_args!("vault id:          {}", c.id_hex()))?;
                printer.line(format_args!("format version:    {}", c.version))?;
                printer.line(format_args!("created:           {} UTC", format_time(c.created_ns)))?;
                printer.line(format_args!(
                    "chunk sizes:       min {}, average {}, max {}",
                    human_bytes(c.chunker.min.into()),
                    human_bytes(c.chunker.avg.into()),
                    human_bytes(c.chunker.max.into())
                ))?;
                printer.line(format_args!("pack size:         {}", human_bytes(c.pack_size.into())))?;
                printer.line(format_args!("compression level: {} (zstd)", c.compression_level))?;
            }
        }
        CatObject::Snapshot { id } => {
            let (id, snap) = repo.find_snapshot(id).await?;
            printer.json(&SnapshotJson::new(&id, &snap))?;
        }
    }
    Ok(Outcome::Success)
}
