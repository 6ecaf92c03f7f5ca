#![allow(dead_code)]
pub mod s3server;
