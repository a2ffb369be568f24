#include "textflag.h"

// func adamAVX2(p, m, v *float32, grad *float64, n int, k *adamConsts)
// Per element, each operation rounded on its own as in adamGeneric:
//   g *= scale; m = b1*m + c1*g; v = b2*v + (c2*g)*g; p -= (step*m) / (sqrt(v) + eps)
// with p, m and v widened from float32 on load and rounded to float32 for
// storage only (the step uses the unrounded moments).
TEXT ·adamAVX2(SB), NOSPLIT, $0-48
	MOVQ p+0(FP), DI
	MOVQ m+8(FP), SI
	MOVQ v+16(FP), DX
	MOVQ grad+24(FP), CX
	MOVQ n+32(FP), BX
	MOVQ k+40(FP), AX
	VBROADCASTSD 0(AX), Y8   // scale
	VBROADCASTSD 8(AX), Y9   // b1
	VBROADCASTSD 16(AX), Y10 // c1
	VBROADCASTSD 24(AX), Y11 // b2
	VBROADCASTSD 32(AX), Y12 // c2
	VBROADCASTSD 40(AX), Y13 // step
	VBROADCASTSD 48(AX), Y14 // eps
	XORQ R8, R8

loop:
	CMPQ R8, BX
	JGE  done
	VMOVUPD (CX)(R8*8), Y0
	VMULPD  Y8, Y0, Y0       // g *= scale
	VCVTPS2PD (SI)(R8*4), Y1 // m, widened
	VMULPD  Y9, Y1, Y1       // b1*m
	VMULPD  Y10, Y0, Y2      // c1*g
	VADDPD  Y2, Y1, Y1       // m = b1*m + c1*g
	VCVTPD2PSY Y1, X2
	VMOVUPS X2, (SI)(R8*4)   // stored rounded to float32
	VCVTPS2PD (DX)(R8*4), Y3 // v, widened
	VMULPD  Y11, Y3, Y3      // b2*v
	VMULPD  Y12, Y0, Y4      // c2*g
	VMULPD  Y0, Y4, Y4       // (c2*g)*g
	VADDPD  Y4, Y3, Y3       // v = b2*v + c2*g*g
	VCVTPD2PSY Y3, X4
	VMOVUPS X4, (DX)(R8*4)
	VSQRTPD Y3, Y5
	VADDPD  Y14, Y5, Y5      // sqrt(v) + eps
	VMULPD  Y13, Y1, Y6      // step*m
	VDIVPD  Y5, Y6, Y6       // (step*m) / (sqrt(v) + eps)
	VCVTPS2PD (DI)(R8*4), Y7 // p, widened
	VSUBPD  Y6, Y7, Y7       // p -= ...
	VCVTPD2PSY Y7, X7
	VMOVUPS X7, (DI)(R8*4)
	ADDQ    $4, R8
	JMP     loop

done:
	VZEROUPPER
	RET

// func adamFactoredRowAVX2(p, m, cols *float32, grad *float64, n int, k *adamConsts, r float64)
// Per element, each operation rounded on its own as in
// adamFactoredRowGeneric:
//   g *= scale; m = b1*m + c1*g; v = r*col; p -= (step*m) / (sqrt(v) + eps)
TEXT ·adamFactoredRowAVX2(SB), NOSPLIT, $0-56
	MOVQ p+0(FP), DI
	MOVQ m+8(FP), SI
	MOVQ cols+16(FP), DX
	MOVQ grad+24(FP), CX
	MOVQ n+32(FP), BX
	MOVQ k+40(FP), AX
	VBROADCASTSD 0(AX), Y8   // scale
	VBROADCASTSD 8(AX), Y9   // b1
	VBROADCASTSD 16(AX), Y10 // c1
	VBROADCASTSD 40(AX), Y13 // step
	VBROADCASTSD 48(AX), Y14 // eps
	VBROADCASTSD r+48(FP), Y11
	XORQ R8, R8

rowloop:
	CMPQ R8, BX
	JGE  rowdone
	VMOVUPD (CX)(R8*8), Y0
	VMULPD  Y8, Y0, Y0       // g *= scale
	VCVTPS2PD (SI)(R8*4), Y1 // m, widened
	VMULPD  Y9, Y1, Y1       // b1*m
	VMULPD  Y10, Y0, Y2      // c1*g
	VADDPD  Y2, Y1, Y1       // m = b1*m + c1*g
	VCVTPD2PSY Y1, X2
	VMOVUPS X2, (SI)(R8*4)   // stored rounded to float32
	VCVTPS2PD (DX)(R8*4), Y3 // col, widened
	VMULPD  Y11, Y3, Y3      // v = r*col
	VSQRTPD Y3, Y5
	VADDPD  Y14, Y5, Y5      // sqrt(v) + eps
	VMULPD  Y13, Y1, Y6      // step*m
	VDIVPD  Y5, Y6, Y6       // (step*m) / (sqrt(v) + eps)
	VCVTPS2PD (DI)(R8*4), Y7 // p, widened
	VSUBPD  Y6, Y7, Y7       // p -= ...
	VCVTPD2PSY Y7, X7
	VMOVUPS X7, (DI)(R8*4)
	ADDQ    $4, R8
	JMP     rowloop

rowdone:
	VZEROUPPER
	RET

// func averageAVX2(avg, p *float32, n int, rate float64)
// Per element, as in averageGeneric: avg = avg + rate*(p - avg), in
// float64, rounded to float32 for storage.
TEXT ·averageAVX2(SB), NOSPLIT, $0-32
	MOVQ avg+0(FP), DI
	MOVQ p+8(FP), SI
	MOVQ n+16(FP), BX
	VBROADCASTSD rate+24(FP), Y8
	XORQ R8, R8

avgloop:
	CMPQ R8, BX
	JGE  avgdone
	VCVTPS2PD (DI)(R8*4), Y0
	VCVTPS2PD (SI)(R8*4), Y1
	VSUBPD  Y0, Y1, Y1       // p - avg
	VMULPD  Y8, Y1, Y1       // rate*(p - avg)
	VADDPD  Y1, Y0, Y0       // avg + ...
	VCVTPD2PSY Y0, X0
	VMOVUPS X0, (DI)(R8*4)
	ADDQ    $4, R8
	JMP     avgloop

avgdone:
	VZEROUPPER
	RET

