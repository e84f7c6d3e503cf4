//! Buckets: create, read, ACL, CORS, tags, stats, delete.

use super::*;

impl Oss {
    /// Creates a bucket (`BucketAlreadyExists` if it exists).
    pub async fn create_bucket(
        &self,
        name: &str,
        acl: &str,
        storage_class: &str,
    ) -> Result<(), OssError> {
        check_bucket(name)?;
        let b = Bucket {
            name: name.to_string(),
            created: ms_now(self),
            acl: acl.to_string(),
            storage_class: storage_class.to_string(),
        };
        let created = self.store().call(move |db| db.insert_bucket(&b)).await?;
        if created {
            tracing::info!(bucket = name, "bucket created");
            Ok(())
        } else {
            Err(OssError::BucketAlreadyExists {
                bucket: name.to_string(),
            })
        }
    }

    /// Forgets every bucket, object and upload (the emulator's reset). No change notifications
    /// are published.
    pub async fn reset(&self) -> Result<(), OssError> {
        self.store().call(|db| db.wipe()).await
    }

    /// Creates a private Standard bucket unless it exists; `true` when it was created.
    pub async fn create_bucket_if_missing(&self, name: &str) -> Result<bool, OssError> {
        match self.create_bucket(name, "private", "Standard").await {
            Ok(()) => Ok(true),
            Err(OssError::BucketAlreadyExists { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A bucket.
    pub async fn bucket(&self, name: &str) -> Result<Bucket, OssError> {
        check_bucket(name)?;
        let n = name.to_string();
        self.store().call(move |db| db.require_bucket(&n)).await
    }

    /// All buckets by name.
    pub async fn list_buckets(&self) -> Result<Vec<Bucket>, OssError> {
        self.store().call(|db| db.buckets()).await
    }

    /// Deletes an empty bucket.
    pub async fn delete_bucket(&self, name: &str) -> Result<(), OssError> {
        self.delete_bucket_aborting(name, false).await
    }

    /// Deletes an empty bucket; with `abort_uploads` its unfinished multipart uploads go with
    /// it (S3's rule) instead of keeping it from being deleted (OSS's).
    pub async fn delete_bucket_aborting(
        &self,
        name: &str,
        abort_uploads: bool,
    ) -> Result<(), OssError> {
        check_bucket(name)?;
        let n = name.to_string();
        self.store()
            .call(move |db| db.delete_bucket(&n, abort_uploads))
            .await
    }

    /// Sets a bucket's ACL.
    pub async fn set_bucket_acl(&self, name: &str, acl: &str) -> Result<(), OssError> {
        let (n, a) = (name.to_string(), acl.to_string());
        self.store().call(move |db| db.set_bucket_acl(&n, &a)).await
    }

    /// A bucket's CORS rules (PutBucketCors), if it has any.
    pub async fn bucket_cors(
        &self,
        name: &str,
    ) -> Result<Option<crate::cors::CorsConfig>, OssError> {
        let n = name.to_string();
        self.store().call(move |db| db.bucket_cors(&n)).await
    }

    /// Replaces a bucket's CORS rules (already checked); `None` removes them.
    pub async fn set_bucket_cors(
        &self,
        name: &str,
        cors: Option<crate::cors::CorsConfig>,
    ) -> Result<(), OssError> {
        let n = name.to_string();
        self.store()
            .call(move |db| db.set_bucket_cors(&n, cors.as_ref()))
            .await
    }

    /// A bucket's tags.
    pub async fn bucket_tags(&self, name: &str) -> Result<Vec<(String, String)>, OssError> {
        let n = name.to_string();
        self.store().call(move |db| db.bucket_tags(&n)).await
    }

    /// Replaces a bucket's tags (already checked against the limits).
    pub async fn set_bucket_tags(
        &self,
        name: &str,
        tags: Vec<(String, String)>,
    ) -> Result<(), OssError> {
        let n = name.to_string();
        self.store()
            .call(move |db| db.set_bucket_tags(&n, &tags))
            .await
    }

    /// Removes a bucket's tags: those named in `only`, or all when it is empty.
    pub async fn delete_bucket_tags(&self, name: &str, only: Vec<String>) -> Result<(), OssError> {
        let n = name.to_string();
        self.store()
            .call(move |db| {
                let mut tags = db.bucket_tags(&n)?;
                tags.retain(|(k, _)| !only.is_empty() && !only.contains(k));
                db.set_bucket_tags(&n, &tags)
            })
            .await
    }

    /// Object count, total bytes, unfinished uploads and last write of a bucket.
    pub async fn bucket_stat(&self, name: &str) -> Result<crate::model::BucketStat, OssError> {
        let n = name.to_string();
        self.store()
            .call(move |db| {
                db.require_bucket(&n)?;
                db.bucket_stat(&n)
            })
            .await
    }

    pub(super) async fn require_bucket(&self, name: &str) -> Result<(), OssError> {
        self.bucket(name).await.map(|_| ())
    }
}
