//! Images (reference batchcompute.md §8): the system image `img-ubuntu`, which stands for this
//! machine, and the images users register. An image is a name here; every instance runs on the
//! local machine whichever image its cluster names.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::BatchError;
use crate::job::text;

/// The system image every account sees.
pub const SYSTEM_IMAGE: &str = "img-ubuntu";

/// An image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// `img-` and 22 lower-case letters and digits, or [`SYSTEM_IMAGE`].
    pub id: String,
    /// Creation order (0 for the system image).
    pub seq: u64,
    /// `Name`.
    pub name: String,
    /// `Description`.
    pub description: String,
    /// `Platform`: `Linux` or `Windows`.
    pub platform: String,
    /// `EcsImageId`: the ECS image it was made from.
    pub ecs_image_id: String,
    /// When it was registered (ms).
    pub created_ms: i64,
}

impl Image {
    /// `img-ubuntu`: the local machine.
    pub fn system() -> Image {
        Image {
            id: SYSTEM_IMAGE.into(),
            seq: 0,
            name: "Ubuntu (this machine)".into(),
            description: "fcemu runs every instance as a process on the local machine".into(),
            platform: "Linux".into(),
            ecs_image_id: "local".into(),
            created_ms: 0,
        }
    }

    /// `System` for the system image, `Self` for the account's own.
    pub fn kind(&self) -> &'static str {
        if self.id == SYSTEM_IMAGE {
            "System"
        } else {
            "Self"
        }
    }
}

/// Reads a CreateImage body (`Name`, `EcsImageId` required; `Platform`, `Description`).
pub fn parse(body: &[u8], id: String, seq: u64, now_ms: i64) -> Result<Image, BatchError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| BatchError::InvalidJsonFormat(e.to_string()))?;
    if !v.is_object() {
        return Err(BatchError::InvalidJsonFormat(
            "the image description must be a JSON object".into(),
        ));
    }
    let name = text(&v, "Name")?.ok_or_else(|| BatchError::missing("Name", ""))?;
    let ecs_image_id =
        text(&v, "EcsImageId")?.ok_or_else(|| BatchError::missing("EcsImageId", ""))?;
    let platform = match text(&v, "Platform")?.as_deref() {
        None | Some("Linux") => "Linux".to_string(),
        Some("Windows") => "Windows".to_string(),
        Some(other) => {
            return Err(BatchError::invalid(
                "Platform",
                format!("Linux or Windows, got {other:?}"),
            ));
        }
    };
    Ok(Image {
        id,
        seq,
        name,
        description: text(&v, "Description")?.unwrap_or_default(),
        platform,
        ecs_image_id,
        created_ms: now_ms,
    })
}
