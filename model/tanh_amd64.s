#include "textflag.h"

// func tanhAVX2(x *float64, n int, k *[tanhConstCount][4]float64)
// Per element, as in tanhGeneric (constants at 32-byte rows of k):
//   a = min(|x|, limit); y = a+a; n = floor(y*invLn2 + half); r = n*ln2 - y
//   p = Horner(r); e = p * bits((magic-n) << 52); x = sign(x) | (one-e)/(one+e)
TEXT ·tanhAVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), BX
	MOVQ k+16(FP), AX
	VMOVUPD 0(AX), Y8    // limit
	VMOVUPD 32(AX), Y9   // 1/ln2
	VMOVUPD 64(AX), Y10  // 0.5
	VMOVUPD 96(AX), Y11  // ln2
	VMOVUPD 128(AX), Y12 // 1
	VMOVUPD 160(AX), Y13 // magic
	VMOVUPD 192(AX), Y14 // sign bit
	XORQ R8, R8

tanhloop:
	CMPQ R8, BX
	JGE  tanhdone
	VMOVUPD (DI)(R8*8), Y0
	VANDPD  Y14, Y0, Y7      // sign of x
	VANDNPD Y0, Y14, Y1      // |x|
	VMINPD  Y1, Y8, Y1       // a = min(|x|, limit), NaN stays NaN
	VADDPD  Y1, Y1, Y1       // y = a+a
	VMULPD  Y9, Y1, Y2       // y*invLn2
	VADDPD  Y10, Y2, Y2      // + half
	VROUNDPD $1, Y2, Y2      // n = floor(...)
	VMULPD  Y11, Y2, Y3      // n*ln2
	VSUBPD  Y1, Y3, Y3       // r = n*ln2 - y
	VMOVUPD 224(AX), Y4      // p = c11
	VMULPD  Y3, Y4, Y4
	VADDPD  256(AX), Y4, Y4
	VMULPD  Y3, Y4, Y4
	VADDPD  288(AX), Y4, Y4
	VMULPD  Y3, Y4, Y4
	VADDPD  320(AX), Y4, Y4
	VMULPD  Y3, Y4, Y4
	VADDPD  352(AX), Y4, Y4
	VMULPD  Y3, Y4, Y4
	VADDPD  384(AX), Y4, Y4
	VMULPD  Y3, Y4, Y4
	VADDPD  416(AX), Y4, Y4
	VMULPD  Y3, Y4, Y4
	VADDPD  448(AX), Y4, Y4
	VMULPD  Y3, Y4, Y4
	VADDPD  480(AX), Y4, Y4
	VMULPD  Y3, Y4, Y4
	VADDPD  512(AX), Y4, Y4
	VMULPD  Y3, Y4, Y4
	VADDPD  544(AX), Y4, Y4
	VMULPD  Y3, Y4, Y4
	VADDPD  576(AX), Y4, Y4  // p = exp(r)
	VSUBPD  Y2, Y13, Y5      // magic - n
	VPSLLQ  $52, Y5, Y5      // 2^-n
	VMULPD  Y5, Y4, Y4       // e
	VSUBPD  Y4, Y12, Y5      // one - e
	VADDPD  Y4, Y12, Y6      // one + e
	VDIVPD  Y6, Y5, Y5
	VORPD   Y7, Y5, Y5
	VMOVUPD Y5, (DI)(R8*8)
	ADDQ    $4, R8
	JMP     tanhloop

tanhdone:
	VZEROUPPER
	RET
