pub use rtmfp;
